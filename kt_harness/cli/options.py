"""Options that `kt unlearn` and `kt reproduce` share: the model and the data (embedded world or real
photos by flags alone), and the attacks and audits of the unlearned model (--attack relearn; --audit: checked,
its never-learned model found, run and summarised). Not a subcommand (no `register`); `write_json` writes
every --json."""

from __future__ import annotations

import json
from pathlib import Path

# kt_lib.knowledge.realdata.LAYOUTS (tests/test_cli_inputs.py checks they agree): importing realdata here
# would import torchvision (and torch._dynamo) into every `kt` command, a cached `kt unlearn` rerun included
LAYOUTS = ("imagenet", "stanford-dogs", "folders", "manifest")


def add_model_options(p) -> None:
    p.add_argument("--model", default="kt-tiny-dogworld", help="open_clip model name")
    help = (
        "an open_clip tag (openai), a local weights file, or 'random' (an untrained architecture); "
    )
    p.add_argument("--pretrained", help=help + "with --model local-dir:/path the folder's weights")
    p.add_argument("--device", default="auto")


def add_data_options(p) -> None:
    help = "real photos: a folder in --layout, or a manifest .jsonl (default: the embedded world)"
    p.add_argument("--data-root", help=help)
    p.add_argument(
        "--layout", choices=LAYOUTS, help="how --data-root is laid out (default: detect)"
    )
    help = "a bundled taxonomy (dogworld, imgnetdogs, oxford_pet) or a JSON path "
    p.add_argument(
        "--taxonomy", help=help + "(default: dogworld on the world, imgnetdogs on real photos)"
    )
    p.add_argument("--train-per-class", type=int, default=200, help="real photos: proxy pool size")
    help = "real photos: test images per class"
    p.add_argument("--test-per-class", type=int, default=50, help=help)


def add_attack_options(p) -> None:
    """The attacks and audits of the unlearned model: --attack relearn (kt_lib.eval.recovery) and --audit
    (kt_lib.eval.audit; its names are checked by `check_data`: importing it here would import torch into
    every `kt` command)."""
    help = "relearn: add the relearning attack's curves, linear probe and paraphrases (kt_lib.recovery)"
    p.add_argument("--attack", choices=("relearn",), help=help)
    help = "images per concept (default 1 5 10)"
    p.add_argument("--attack-k", type=int, nargs="+", default=None, help=help)
    help = "relearning steps to measure at (default 0 1 2 4 8 16 32)"
    p.add_argument("--attack-steps", type=int, nargs="+", default=None, help=help)
    help = "never-learned model (e.g. from 'kt world --retrain --without NAME') for --attack's residual"
    p.add_argument("--reference", metavar="CKPT", help=help)
    add_audit_options(p)


def add_audit_options(p) -> None:
    """--audit NAMES, --audit-k, --audit-steps (kt unlearn, and kt sweep's columns)."""
    help = (
        "audit the unlearned model and add 'audit' to the JSON: a comma-separated list of mia, ks, quant, "
        "invert, or all (membership inference with true members, TOFU's KS forget quality, int8/int4 "
        "fake quantization, concept inversion; kt_lib.eval.audit). mia and ks need the never-learned model: "
        "without it the command stops before training and says how to make it (kt world --retrain --without "
        "NAME, about 5 minutes); quant and invert run without it"
    )
    p.add_argument("--audit", metavar="NAMES", help=help)
    help = "--audit invert: images of each forgotten breed the token is learned from (1-100, default 5)"
    p.add_argument("--audit-k", type=int, default=5, metavar="K", help=help)
    help = "--audit invert: optimiser steps on the token (1-100, default 100)"
    p.add_argument("--audit-steps", type=int, default=100, metavar="STEPS", help=help)


def check_data(args) -> None:
    """Flag combinations that cannot work, caught before any model is loaded (--audit's too)."""
    check_audit(args)
    if args.data_root:
        return
    if args.taxonomy not in (None, "dogworld"):
        raise ValueError(
            f"--taxonomy {args.taxonomy} needs real photos: add --data-root (the embedded world "
            "uses the dogworld taxonomy)"
        )
    if args.model != "kt-tiny-dogworld":
        raise ValueError(
            f"--model {args.model} needs real photos: add --data-root (the embedded world's images "
            "are 32-px tensors for the world model)"
        )


def check_audit(args) -> list[str]:
    """--audit's names (kt_lib.eval.audit.audit_names: an unknown one names the allowed values), its settings
    checked in range, and the audits that need the embedded world refused on real photos; [] without --audit."""
    if getattr(args, "audit", None) is None:  # a command without --audit, or not given
        return []
    from kt_lib.eval import audit

    names = audit.audit_names(args.audit)
    audit.check_range("--audit-k", args.audit_k, audit.K_RANGE)
    audit.check_range("--audit-steps", args.audit_steps, audit.STEPS_RANGE)
    need = [n for n in names if n in audit.NEEDS_NEVER]
    if args.data_root and need:
        raise ValueError(
            f"--audit {','.join(need)} needs the embedded world's pretraining images (true members) and "
            "never-learned model: on real photos use --audit quant,invert"
        )
    return names


def audit_reference(args, exp):
    """The cached never-learned model when an audit needs it (mia, ks), else None (quant and invert then use
    it as a control if cached). Missing: one line saying how to build it, before anything is trained: a
    retrain takes minutes and is never started silently."""
    from kt_lib.eval import audit

    audits = check_audit(args)
    need = [n for n in audits if n in audit.NEEDS_NEVER]
    if not need:
        return None
    try:
        return audit.load_never_learned(exp)
    except audit.NeverLearnedMissing as err:
        others = [n for n in audits if n not in audit.NEEDS_NEVER] or ["quant", "invert"]
        raise audit.NeverLearnedMissing(
            f"--audit {','.join(need)}: {err} (or --audit {','.join(others)}, which need none)"
        ) from None


def run_audits(args, exp, row: dict, never) -> dict:
    """{'audit': kt_lib.eval.audit.audit on the run's row (cached by run key)}, summarised in a line each; {}
    without --audit."""
    from kt_lib.eval import audit

    if not (audits := check_audit(args)):
        return {}
    print(f"  auditing: {', '.join(audits)} (each cached by run key; first time, minutes on a CPU)")
    res = audit.audit(
        exp, row, never=never, names=audits, seed=args.seed, k=args.audit_k, steps=args.audit_steps
    )
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    if "mia" in res:
        mia = res["mia"]
        auc = {(r["model"], r["feature"]): r["auc"] for r in mia["rows"]}
        leak = ", ".join(f"{f} {v['verdict']}" for f, v in mia["leak"].items())
        print(
            f"  audit mia: AUC (log_prob) original {fmt(auc[('original', 'log_prob')])}, unlearned "
            f"{fmt(auc[('unlearned', 'log_prob')])}, never-learned {fmt(auc[('never-learned', 'log_prob')])}; "
            f"{leak}"
        )
    if "ks" in res:
        ks = res["ks"]
        verdict = "passes" if ks["passed"] else "fails"
        print(f"  audit ks: p {ks['p']:.3g}  D {ks['D']:.3f}  n {ks['n']} ({verdict} at p > 0.05)")
    if "quant" in res:
        q = [r for r in res["quant"]["rows"] if r["model"] == "unlearned"]
        parts = ", ".join(f"{r['scheme']} {fmt(r['forget_fine'])}" for r in q)
        print(f"  audit quant: the unlearned model's forget accuracy {parts}")
    if "invert" in res:
        inv = [r for r in res["invert"]["rows"] if r["model"] == "unlearned"]
        parts = ", ".join(f"{r['concept']} {fmt(r['by_token'])}" for r in inv)
        print(f"  audit invert: a learned token's accuracy on the unlearned model: {parts}")
    if "never_learned" in res:
        print(f"  no never-learned control: {res['never_learned']}")
    return dict(audit=res)


def open_data(args, preprocess):
    """(DataSource, data record) from --data-root/--layout/--taxonomy, or the embedded world.
    Skipped (unreadable) images are printed, counted (`skipped_count`) and listed (`skipped`) in the
    record: nothing is dropped silently."""
    from kt_lib.knowledge.taxonomy import Taxonomy
    from kt_lib.sources import manifest_source, world_source

    check_data(args)
    if not args.data_root:
        src = world_source(eval_per_class=getattr(args, "eval_per_class", None))
        return src, dict(name="dogworld", taxonomy="dogworld", root=None)
    from kt_lib.knowledge.realdata import build_manifest, load_manifest

    taxonomy = Taxonomy.load(args.taxonomy or "imgnetdogs")
    root = Path(args.data_root)
    if not root.exists():
        raise FileNotFoundError(f"--data-root {root} is not a folder (or a manifest .jsonl)")
    is_manifest = args.layout == "manifest" or (args.layout is None and root.suffix == ".jsonl")
    if is_manifest:
        manifest, skipped = load_manifest(root), []
    else:
        if not root.is_dir():
            raise FileNotFoundError(f"--data-root {root} is not a folder (or a manifest .jsonl)")
        manifest = build_manifest(
            root,
            taxonomy,
            train_per_class=args.train_per_class,
            test_per_class=args.test_per_class,
            layout=args.layout,
            verbose=False,
        )
        skipped = list(manifest.skipped)
        for path in skipped:
            print(f"  skipped unreadable image: {path}")
        if skipped:
            print(
                f"  {len(skipped)} of {len(skipped) + len(manifest)} image files read could not be "
                "decoded and were skipped"
            )
        missing = manifest.stats["missing_classes"]
        if missing:
            print(f"  {len(missing)} taxonomy classes have no folder (first: {missing[:5]})")
    name = f"{taxonomy.name}-{root.name}"
    src = manifest_source(manifest, taxonomy, preprocess, name=name)
    record = dict(
        name=name,
        taxonomy=taxonomy.name,
        root=str(root.resolve()),
        layout=args.layout or ("manifest" if is_manifest else "detected"),
        images=len(manifest),
        skipped_count=len(skipped),
        skipped=skipped,
    )
    return src, record


def write(path: str, data: str | bytes) -> None:
    """Write `data` to `path` (its folder made) and say so."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data if isinstance(data, bytes) else data.encode())
    print(f"wrote {path}")


def write_json(path: str | None, payload: dict) -> None:
    """`payload` as indented JSON to `path`; nothing without a path."""
    if path:
        write(path, json.dumps(payload, indent=2, default=str) + "\n")


def attack(args, exp, unlearned) -> dict:
    """`--attack relearn`: the residual-knowledge frames as JSON, printed as one summary table."""
    from kt_lib.eval import recovery
    from kt_lib.eval.residual import cached_reference, residual_knowledge, to_json
    from kt_lib.models import load_model

    path = args.reference
    if path is None:
        path = cached_reference(args.model, args.pretrained, args.data_root, exp.forget)
        if path is not None:
            print(f"  never-learned reference: {path}")
    reference = None if path is None else load_model(args.model, path, device=args.device)[0]
    ks, steps = tuple(args.attack_k or recovery.KS), tuple(args.attack_steps or recovery.STEPS)
    res = residual_knowledge(exp, unlearned, reference, label=args.method, ks=ks, steps=steps)
    print(res["summary"].round(3).to_string(index=False))
    if reference is None:
        names = " ".join(repr(n) for n in exp.forget)
        print(
            "  no never-learned model: residual not computed (give --reference CKPT; on the world "
            f"model 'kt world --retrain --without {names}' makes and caches one)"
        )
    return dict(to_json(res), reference=None if path is None else str(path))
