"""`kt unlearn`: one unlearning run on the embedded world or on real photos (flags only), as JSON."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from kt_harness.cli.options import (
    add_attack_options,
    add_data_options,
    add_model_options,
    attack,
    audit_reference,
    check_data,
    open_data,
    run_audits,
    write_json,
)
from kt_harness.cli.sequence import add_then_option, check_then, run_sequence
from kt_lib.efficiency import EFFICIENCY
from kt_lib.presets import PRESETS

SETTINGS = ("lr", "num_steps", "num_epochs", "batch_size", "margin", "alpha_coarse", "alpha_fine")
SETTINGS += ("beta", "ridge", "select")  # what reaches UnlearnConfig when given; None: the preset's
FLOATS = (
    ("--margin", "default 2 (kt_lib.presets)"),
    ("--alpha-coarse", "default 10"),
    ("--alpha-fine", "default 20"),
    ("--beta", "NPO beta (default 0.5)"),
    (
        "--ridge",
        "projection: ridge on the retained classes' heads (default 1; 0 spares them exactly, "
        "larger erases more, up to the plain projection)",
    ),
    ("--lr", "default: the preset's, else the model's (default_lr)"),
)


def register(sub) -> None:
    p = sub.add_parser("unlearn", help="unlearn concepts with one method and report Q, U, Q-U")
    p.add_argument("--list-methods", action="store_true", help="list the methods and exit")
    p.add_argument("--method", default="nhl_kl")
    help = "a breed or group to forget (repeatable)"
    p.add_argument("--forget", action="append", metavar="NAME", help=help)
    add_then_option(p)
    help = "pick targets from a difficulty level computed from the original model"
    p.add_argument("--difficulty", choices=("easy", "medium", "difficult"), help=help)
    p.add_argument("--num-targets", type=int, default=3, help="with --difficulty: how many targets")
    help = "proxy exemplars per forgotten breed"
    p.add_argument("--samples-per-class", type=int, default=30, help=help)
    help = "test images per breed (default: all 40)"
    p.add_argument("--eval-per-class", type=int, default=None, help=help)
    for flag, help in FLOATS:
        p.add_argument(flag, type=float, default=None, help=help)
    budget = p.add_mutually_exclusive_group()
    help = "optimiser steps (default 48)"
    budget.add_argument("--steps", type=int, dest="num_steps", metavar="STEPS", help=help)
    help = "passes over the forget set instead"
    budget.add_argument("--epochs", type=int, dest="num_epochs", metavar="EPOCHS", help=help)
    p.add_argument("--batch-size", type=int, default=None, help="default 32")
    p.add_argument("--towers", choices=("both", "image", "text"), default="both")
    p.add_argument("--goal", choices=("fine", "coarse", "hybrid"), default="fine")
    p.add_argument("--select", choices=("last", "holdout", "min_forget_fine"), default=None)
    add_model_options(p)
    add_data_options(p)
    help = "paper: the official training setup (AdamW, per-epoch cosine, 80 templates, ...)"
    p.add_argument("--preset", choices=PRESETS, default="default", help=help)
    p.add_argument("--seed", type=int, default=0)
    add_attack_options(p)
    help = (
        "train again and keep the result only in this process (default: this machine's run cache, "
        "$KT_CACHE/runs.jsonl, shared with the notebooks: the same settings run before come back at once)"
    )
    p.add_argument("--no-cache", action="store_true", help=help)
    p.add_argument("--json", help="write the result to this JSON file")
    help = "write the unlearned weights to this safetensors file (atomically)"
    p.add_argument("--save", help=help)
    p.set_defaults(func=run)


def overrides(args) -> dict:
    """The settings given on the command line (None = the preset's or the default)."""
    given = {k: getattr(args, k) for k in SETTINGS if getattr(args, k) is not None}
    return dict(given, towers=args.towers, goal=args.goal, seed=args.seed)


def run(args) -> int:
    if args.list_methods:
        from kt_lib.methods import list_methods

        for name, desc in list_methods():
            print(f"{name:12s} {desc}")
        return 0
    check_data(args)  # --audit's names and ranges included
    check_then(args)
    request = None if args.then else request_id(args)
    if request is not None and answer_from_memo(args, request):
        return 0  # a rerun: neither torch's model nor the images were needed
    from kt_lib.cache import machine_cache
    from kt_lib.eval import collateral
    from kt_lib.eval.evaluator import difficulty_levels
    from kt_lib.experiment import Experiment
    from kt_lib.models import load_model
    from kt_lib.unlearn import UnlearnConfig

    UnlearnConfig(method=args.method, **overrides(args))  # bad settings fail before the model loads
    model, preprocess, tokenizer = load_model(args.model, args.pretrained, device=args.device)
    source, data = open_data(args, preprocess)
    cache = None if args.no_cache else machine_cache()
    if cache is not None:  # the original model's test predictions: once per machine
        source.evaluator.persist(model, cache)
    forget = list(args.forget or [])
    if args.difficulty:
        levels = difficulty_levels(source.evaluator.per_class(model, tokenizer))
        forget += levels[args.difficulty][-args.num_targets :]
    if not forget:
        raise ValueError("name what to forget: --forget NAME (repeatable) or --difficulty LEVEL")
    kw = dict(samples_per_class=args.samples_per_class, preset=args.preset, method=args.method)
    kw.update(data=source, progress=True, cache=cache, **overrides(args))
    exp = Experiment(forget, model, tokenizer, **kw)
    if args.then:
        return run_sequence(args, exp)
    never = audit_reference(args, exp)  # a missing one stops the command before it trains
    cached = exp.cached() is not None
    row = exp.run()  # the machine's cached row of these settings, else trained now
    memo = dict(
        key=row["key"],
        forget=exp.forget,
        before=exp.before,
        config=asdict(exp.config()),
        data=data,
        eval_templates=len(exp.eval_templates),
        profile=collateral.to_json(collateral.profile(exp, row)),
    )
    out = build_record(args, memo, row)
    report(args, exp.forget, row, out, cached)
    if args.attack:
        out["relearning"] = attack(args, exp, exp.result(row).model)
    out.update(run_audits(args, exp, row, never))  # --audit: 'audit'
    if args.save:
        from kt_lib.checkpoint import save_checkpoint

        save_checkpoint(
            exp.result(row).model.state_dict(),
            args.save,
            dict(method=args.method, forget=exp.forget, QU=out["QU"]),
            compact_vocab=args.model == "kt-tiny-dogworld",
        )
        print(f"wrote {args.save} (load it with kt_lib.load_model({args.model!r}, {args.save!r}))")
    if request is not None:
        save_memo(request, memo)
    write_json(args.json, out)
    return 0


# A cached rerun's short cut. `kt unlearn` of settings this machine ran before spent ~7 of its ~9 CPU
# seconds importing torch, open_clip and torchvision and ~2 building the model and decoding the world's
# images, only to compute the run's key (`Experiment.key`: the exemplars' checksum, the weights' hash). The
# first run records, per request (every argument that reaches the result, the world's pool files and the
# code, by path, size and modification time), the key Experiment computed and what the record takes from
# the model and the images ('before', the resolved settings, the collateral profile); a rerun of the same
# request answers from that and the row in the run cache, without loading either. Anything that needs the
# model (--save, --attack, --audit, --difficulty), real photos, a weights file, --no-cache, or methods or
# taxonomies from outside the package (KT_METHODS, KT_TAXONOMY_DIR) goes the whole way.
MEMO_DIR = "unlearn-requests"  # beside the run cache's file
MEMO_ARGS = ("method", "forget", "samples_per_class", "eval_per_class", "towers", "goal", "preset")
MEMO_ARGS += ("model", "pretrained", "taxonomy", "device", "seed", *SETTINGS)
PACKAGES = ("torch", "torchvision", "open_clip_torch", "timm", "numpy", "pandas", "scipy")
CODE = Path(__file__).resolve().parents[2]  # kt_lib and kt_harness: any change is a new request


def request_id(args) -> str | None:
    """The request's id (a hash of what decides its record), or None where the model must be loaded."""
    from kt_lib.cachefile import cache_dir

    needs_model = any(
        (args.no_cache, args.save, args.attack, args.audit, args.difficulty, args.data_root)
    )
    elsewhere = os.environ.get("KT_METHODS") or os.environ.get("KT_TAXONOMY_DIR")
    if needs_model or elsewhere or args.pretrained is not None or not args.forget:
        return None
    cache = cache_dir()  # the world's pools, and the world model when it was pretrained here
    files = [*cache.glob("world-*"), *cache.glob(f"{args.model}*")]
    for path, _, names in [*os.walk(CODE / "kt_lib"), *os.walk(CODE / "kt_harness")]:
        files += [Path(path) / n for n in names if not n.endswith(".pyc")]
    stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(files)]
    versions = [sys.version, *map(_version, PACKAGES)]  # what computed 'before' and the profile
    spec = dict(args={k: getattr(args, k) for k in MEMO_ARGS}, files=stats, versions=versions)
    return hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _memo_path(request: str) -> Path:
    from kt_lib.cache import machine_cache

    return machine_cache().path.parent / MEMO_DIR / f"{request}.json"


def save_memo(request: str, memo: dict) -> None:
    from kt_lib.cachefile import write_bytes

    _memo_path(request).parent.mkdir(parents=True, exist_ok=True)
    write_bytes(_memo_path(request), json.dumps(memo, default=str).encode())


def answer_from_memo(args, request: str) -> bool:
    """Print and write the record of a request this machine answered before, from its memo and the run
    cache's row; False (nothing done) when either is missing or unreadable."""
    from kt_lib.cache import machine_cache

    try:
        memo = json.loads(_memo_path(request).read_text())
    except (OSError, ValueError):
        return False
    row = machine_cache().get(memo.get("key", ""))
    if row is None:
        return False
    try:
        out = build_record(args, memo, row)
    except (KeyError, TypeError, AttributeError):  # a memo from other code: the whole way
        return False
    report(args, memo["forget"], row, out, cached=True)
    write_json(args.json, out)
    return True


def report(args, forget: list, row: dict, out: dict, cached: bool) -> None:
    """The run's summary lines."""
    print(f"{args.method}: forget {', '.join(forget)} (goal {args.goal})")
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    trained = ", from the run cache (--no-cache trains again)" if cached else ""
    print(
        f"  Q {fmt(out['Q'])}  U {fmt(out['U'])}  Q-U {fmt(out['QU'])}  "
        f"OOD Q-U {fmt(row.get('drawing_QU'))}  zero-shot utility {fmt(out['zero_shot_utility'])}  "
        f"(trained in {row['seconds']:.1f} s{trained})"
    )
    if row.get("peak_memory_mb") is not None:  # kt_lib.efficiency (a row cached before it: none)
        changed = f"{row['params_changed']:,} of {row['params_total']:,} parameters changed"
        mem = f"{row['peak_memory_mb']:,.0f} MiB peak ({row['memory']}), +{row['memory_added_mb']:,.0f}"
        print(f"  cost: {mem} MiB added, {changed}")
    if out["nothing_to_forget"]:
        print(f"  {out['nothing_to_forget']}")
    if row["stopped"]:
        print(f"  stopped early: {row['stopped']}")


def build_record(args, memo: dict, row: dict) -> dict:
    """The run's JSON from the row and `memo` (what the experiment adds: forget, before, settings, data)."""
    return dict(
        method=args.method,
        goal=args.goal,
        forget=memo["forget"],
        Q=row["Q"],
        U=row["U"],
        QU=row["QU"],
        nothing_to_forget=row.get("nothing_to_forget"),
        before=memo["before"],
        after={k[6:]: v for k, v in row.items() if k.startswith("after_")},
        ood={k: row[k] for k in row if k.startswith("drawing_")},
        zero_shot_utility=row.get("zero_shot_utility"),
        seconds=row["seconds"],
        efficiency={k: row.get(k) for k in EFFICIENCY},  # kt_lib.efficiency says what each means
        steps=row["steps"],
        selected_epoch=row.get("selected_epoch"),  # absent from rows cached before it was recorded
        stopped=row["stopped"],
        config=dict(  # what reached the optimiser: the resolved settings, lr as the run resolved it
            {k: row.get(k, v) for k, v in memo["config"].items()},
            model=args.model,
            pretrained=args.pretrained,
            data=memo["data"],
            eval_templates=memo["eval_templates"],
        ),
        profile=memo["profile"],
        flags=row["flags"],
    )
