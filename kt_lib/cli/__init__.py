"""The `kt` command (also `python -m kt_lib`): one module per subcommand, each with `register(sub)`."""

from __future__ import annotations

import argparse
import sys

import matplotlib

from kt_lib.cli import bench, sweep, taxonomy, tutorial, unlearn, world

matplotlib.use("Agg")

SUBCOMMANDS = (world, taxonomy, unlearn, sweep, tutorial, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kt", description="Knowledge-tracing unlearning for CLIP."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.register(sub)
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
