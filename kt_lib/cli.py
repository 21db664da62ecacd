"""The `kt` command (also `python -m kt_lib`)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")


def _write_json(path: str | None, payload: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {path}")


def run_world(args) -> int:
    from .worldmodel import evaluate_world_model, world_model

    model, tokenizer, info = world_model(retrain=args.retrain, progress=not args.quiet,
                                         save_to=Path(args.save_to) if args.save_to else None)
    acc = evaluate_world_model(model, tokenizer)
    report = dict(fine=acc["fine"], coarse=acc["coarse"], coarse_via_fine=acc["coarse_via_fine"],
                  fine_ood=acc["fine_ood"], coarse_ood=acc["coarse_ood"], zero_shot=acc["zero_shot"],
                  train_seconds=info.get("train_seconds"), checkpoint=info["checkpoint"],
                  loaded=info.get("loaded", False))
    print(f"world model: {'loaded' if report['loaded'] else 'pretrained'} {report['checkpoint']}")
    print(f"  photo test:   fine {acc['fine']:.1%}  coarse {acc['coarse']:.1%}  coarse via fine {acc['coarse_via_fine']:.1%}")
    print(f"  drawing test: fine {acc['fine_ood']:.1%}  coarse {acc['coarse_ood']:.1%}")
    print("  zero-shot:    " + "  ".join(f"{k} {v:.1%}" for k, v in acc["zero_shot"].items()))
    if report["train_seconds"] is not None:
        print(f"  pretraining took {report['train_seconds']:.0f} s")
    _write_json(args.json, report)
    if args.samples:
        from .plots import draw_samples

        Path(args.samples).parent.mkdir(parents=True, exist_ok=True)
        draw_samples().savefig(args.samples, dpi=150)
        print(f"wrote {args.samples}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kt", description="Knowledge-tracing unlearning for CLIP.")
    sub = parser.add_subparsers(dest="command", required=True)
    world = sub.add_parser("world", help="pretrain-or-load the embedded world model and print what it knows")
    world.add_argument("--retrain", action="store_true", help="ignore shipped/cached checkpoints and pretrain")
    world.add_argument("--save-to", help="where --retrain writes the checkpoint (default: the cache)")
    world.add_argument("--json", help="write the accuracies to this JSON file")
    world.add_argument("--samples", help="write a labelled sample grid to this PNG")
    world.add_argument("--quiet", action="store_true", help="no progress bar")
    world.set_defaults(func=run_world)
    for module in ("cli_taxonomy", "cli_unlearn", "cli_tutorial", "cli_bench"):
        try:
            mod = __import__(f"kt_lib.{module}", fromlist=["register"])
        except ModuleNotFoundError as err:
            if err.name != f"kt_lib.{module}":
                raise
            continue
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (KeyError, ValueError, FileNotFoundError, RuntimeError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"kt {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
