"""`kt unlearn`: one unlearning run on the embedded world (or a real model), written as JSON."""

from __future__ import annotations

import json
from pathlib import Path


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
    p.add_argument("--margin", type=float, default=2.0)
    p.add_argument("--alpha-coarse", type=float, default=10.0)
    p.add_argument("--alpha-fine", type=float, default=20.0)
    p.add_argument("--beta", type=float, default=0.5, help="NPO beta")
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="default depends on the model (2e-4 for the tiny world model)",
    )
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--towers", choices=("both", "image", "text"), default="both")
    p.add_argument("--goal", choices=("fine", "coarse", "hybrid"), default="fine")
    p.add_argument("--select", choices=("last", "holdout"), default="last")
    p.add_argument("--model", default="kt-tiny-dogworld")
    p.add_argument("--pretrained", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the result to this JSON file")
    p.add_argument(
        "--save", help="write the unlearned weights to this safetensors file (atomically)"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from kt_lib.methods import list_methods
    from kt_lib.unlearn import UnlearnConfig, default_lr

    if args.list_methods:
        for name, desc in list_methods():
            print(f"{name:12s} {desc}")
        return 0
    if args.model != "kt-tiny-dogworld":
        raise ValueError(
            "kt unlearn evaluates on the embedded world; for a real CLIP on real data use the "
            "Python API (kt_lib.knowledge.realdata + kt_lib.unlearn) or the notebooks' MODEL/DATA_ROOT parameters"
        )
    from kt_lib.eval import collateral
    from kt_lib.eval.evaluator import difficulty_levels
    from kt_lib.experiment import Experiment
    from kt_lib.models import load_model

    model, _, tokenizer = load_model(args.model, args.pretrained, device=args.device)
    cfg = dict(
        method=args.method,
        lr=args.lr or default_lr(args.model),
        num_epochs=args.epochs,
        batch_size=args.batch_size,
        margin=args.margin,
        alpha_coarse=args.alpha_coarse,
        alpha_fine=args.alpha_fine,
        beta=args.beta,
        towers=args.towers,
        goal=args.goal,
        select=args.select,
        seed=args.seed,
        progress=True,
    )
    UnlearnConfig(**cfg)  # validate before any heavy work
    forget = args.forget
    if args.difficulty:
        probe = Experiment(["vizsla"], model, tokenizer, eval_per_class=args.eval_per_class)
        levels = difficulty_levels(probe.evaluator.per_class(model, tokenizer))
        forget = (forget or []) + levels[args.difficulty][-args.num_targets :]
    if not forget:
        raise ValueError("name what to forget: --forget NAME (repeatable) or --difficulty LEVEL")
    exp = Experiment(
        forget,
        model,
        tokenizer,
        samples_per_class=args.samples_per_class,
        eval_per_class=args.eval_per_class,
        **cfg,
    )
    row = exp.run()
    result = row.pop("result")
    out = dict(
        method=args.method,
        forget=exp.forget,
        Q=row["Q"],
        U=row["U"],
        QU=row["QU"],
        before=exp.before,
        after={k[6:]: v for k, v in row.items() if k.startswith("after_")},
        ood={k: row[k] for k in row if k.startswith("drawing_")},
        zero_shot_utility=row.get("zero_shot_utility"),
        seconds=result.seconds,
        steps=result.info["steps"],
        stopped=result.stopped,
        config=result.info["config"],
    )
    out.update(
        profile=collateral.to_json(collateral.profile(exp, result.model)), flags=row["flags"]
    )
    print(f"{args.method}: forget {', '.join(exp.forget)}")
    print(
        f"  Q {out['Q']:.3f}  U {out['U']:.3f}  Q-U {out['QU']:.3f}  "
        f"OOD Q-U {row.get('drawing_QU', float('nan')):.3f}  zero-shot utility {out['zero_shot_utility']:.3f}  "
        f"({result.seconds:.1f} s)"
    )
    if result.stopped:
        print(f"  stopped early: {result.stopped}")
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
