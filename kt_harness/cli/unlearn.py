"""`kt unlearn`: one unlearning run on the embedded world or on real photos (flags only), as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from kt_harness.cli.options import (
    add_data_options,
    add_model_options,
    add_preset_option,
    check_data,
    open_data,
)


def register(sub) -> None:
    p = sub.add_parser("unlearn", help="unlearn concepts with one method and report Q, U, Q-U")
    p.add_argument("--list-methods", action="store_true", help="list the methods and exit")
    p.add_argument("--method", default="nhl_kl")
    p.add_argument(
        "--forget", action="append", metavar="NAME", help="a breed or group to forget (repeatable)"
    )
    p.add_argument(
        "--difficulty",
        choices=("easy", "medium", "difficult"),
        help="pick targets from a difficulty level computed from the original model",
    )
    p.add_argument("--num-targets", type=int, default=3, help="with --difficulty: how many targets")
    p.add_argument(
        "--samples-per-class", type=int, default=30, help="proxy exemplars per forgotten breed"
    )
    p.add_argument(
        "--eval-per-class", type=int, default=None, help="test images per breed (default: all 40)"
    )
    p.add_argument("--margin", type=float, default=None, help="default 2 (kt_lib.presets)")
    p.add_argument("--alpha-coarse", type=float, default=None, help="default 10")
    p.add_argument("--alpha-fine", type=float, default=None, help="default 20")
    p.add_argument("--beta", type=float, default=None, help="NPO beta (default 0.5)")
    p.add_argument(
        "--ridge",
        type=float,
        default=None,
        help="projection: ridge on the retained classes' heads (default 1; 0 spares them exactly, "
        "larger erases more, up to the plain projection)",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="default: the preset's, else the model's (default_lr)",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="optimiser steps (default 48)")
    budget.add_argument(
        "--epochs", type=int, default=None, help="passes over the forget set instead"
    )
    p.add_argument("--batch-size", type=int, default=None, help="default 32")
    p.add_argument("--towers", choices=("both", "image", "text"), default="both")
    p.add_argument("--goal", choices=("fine", "coarse", "hybrid"), default="fine")
    p.add_argument("--select", choices=("last", "holdout", "min_forget_fine"), default=None)
    add_model_options(p)
    add_data_options(p)
    add_preset_option(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--attack",
        choices=("relearn",),
        help="relearn: add the relearning attack's curves, linear probe and paraphrases (kt_lib.recovery)",
    )
    p.add_argument(
        "--attack-k", type=int, nargs="+", default=None, help="images per concept (default 1 5 10)"
    )
    p.add_argument(
        "--attack-steps",
        type=int,
        nargs="+",
        default=None,
        help="relearning steps to measure at (default 0 1 2 4 8 16 32)",
    )
    p.add_argument(
        "--reference",
        metavar="CKPT",
        help="never-learned model (e.g. from 'kt world --retrain --without NAME') for --attack's residual",
    )
    p.add_argument("--json", help="write the result to this JSON file")
    p.add_argument(
        "--save", help="write the unlearned weights to this safetensors file (atomically)"
    )
    p.set_defaults(func=run)


def overrides(args) -> dict:
    """The settings given on the command line (None = the preset's or the default)."""
    given = dict(
        lr=args.lr,
        num_steps=args.steps,
        num_epochs=args.epochs,
        batch_size=args.batch_size,
        margin=args.margin,
        alpha_coarse=args.alpha_coarse,
        alpha_fine=args.alpha_fine,
        beta=args.beta,
        ridge=args.ridge,
        select=args.select,
    )
    return dict(
        {k: v for k, v in given.items() if v is not None},
        towers=args.towers,
        goal=args.goal,
        seed=args.seed,
    )


def run(args) -> int:
    from kt_lib.methods import list_methods

    if args.list_methods:
        for name, desc in list_methods():
            print(f"{name:12s} {desc}")
        return 0
    from kt_lib.eval import collateral
    from kt_lib.eval.evaluator import difficulty_levels
    from kt_lib.experiment import Experiment
    from kt_lib.models import load_model
    from kt_lib.unlearn import UnlearnConfig

    check_data(args)
    UnlearnConfig(method=args.method, **overrides(args))  # bad settings fail before the model loads
    model, preprocess, tokenizer = load_model(args.model, args.pretrained, device=args.device)
    source, data = open_data(args, preprocess)
    forget = list(args.forget or [])
    if args.difficulty:
        levels = difficulty_levels(source.evaluator.per_class(model, tokenizer))
        forget += levels[args.difficulty][-args.num_targets :]
    if not forget:
        raise ValueError("name what to forget: --forget NAME (repeatable) or --difficulty LEVEL")
    exp = Experiment(
        forget,
        model,
        tokenizer,
        samples_per_class=args.samples_per_class,
        data=source,
        preset=args.preset,
        method=args.method,
        progress=True,
        cache="machine",  # the row is found by the notebooks and later commands (the model is trained)
        **overrides(args),
    )
    row = exp.run()
    out = build_record(args, exp, row, data)
    result = row["result"]
    out.update(profile=collateral.to_json(collateral.profile(exp, row)), flags=row["flags"])
    print(f"{args.method}: forget {', '.join(exp.forget)} (goal {args.goal})")
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    print(
        f"  Q {fmt(out['Q'])}  U {fmt(out['U'])}  Q-U {fmt(out['QU'])}  "
        f"OOD Q-U {fmt(row.get('drawing_QU'))}  zero-shot utility {fmt(out['zero_shot_utility'])}  "
        f"({result.seconds:.1f} s)"
    )
    if out["nothing_to_forget"]:
        print(f"  {out['nothing_to_forget']}")
    if result.stopped:
        print(f"  stopped early: {result.stopped}")
    if args.attack:
        out["relearning"] = attack(args, exp, result.model)
    if args.save:
        from kt_lib.checkpoint import save_checkpoint

        save_checkpoint(
            result.model.state_dict(),
            args.save,
            dict(method=args.method, forget=exp.forget, QU=out["QU"]),
            compact_vocab=args.model == "kt-tiny-dogworld",
        )
        print(f"wrote {args.save} (load it with kt_lib.load_model({args.model!r}, {args.save!r}))")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 0


def build_record(args, exp, row: dict, data: dict) -> dict:
    """The run's JSON: scores, accuracies, and every setting that reached the optimiser (`config`)."""
    result = row["result"]
    return dict(
        method=args.method,
        goal=args.goal,
        forget=exp.forget,
        Q=row["Q"],
        U=row["U"],
        QU=row["QU"],
        nothing_to_forget=row.get("nothing_to_forget"),
        before=exp.before,
        after={k[6:]: v for k, v in row.items() if k.startswith("after_")},
        ood={k: row[k] for k in row if k.startswith("drawing_")},
        zero_shot_utility=row.get("zero_shot_utility"),
        seconds=result.seconds,
        steps=result.info["steps"],
        selected_epoch=result.info.get("selected_epoch"),
        stopped=result.stopped,
        config=dict(
            result.info["config"],
            model=args.model,
            pretrained=args.pretrained,
            data=data,
            eval_templates=len(exp.eval_templates),
        ),
    )


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
    res = residual_knowledge(
        exp,
        unlearned,
        reference,
        label=args.method,
        ks=tuple(args.attack_k or recovery.KS),
        steps=tuple(args.attack_steps or recovery.STEPS),
    )
    print(res["summary"].round(3).to_string(index=False))
    if reference is None:
        names = " ".join(repr(n) for n in exp.forget)
        print(
            "  no never-learned model: residual not computed (give --reference CKPT; on the world "
            f"model 'kt world --retrain --without {names}' makes and caches one)"
        )
    return dict(to_json(res), reference=None if path is None else str(path))
