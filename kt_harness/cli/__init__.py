"""The `kt` command (also `python -m kt_harness`): one module per subcommand, each with `register(sub)`.

Every failure is one `kt <sub>: error: ...` line on stderr and a non-zero exit (2 for bad input, 1 for
anything else, 130/143 after SIGINT/SIGTERM); `--debug` (anywhere on the line) or KT_DEBUG=1 shows the traceback instead. Ctrl-C and
SIGTERM stop cleanly: files being written are removed (the old ones stay) and finished results are kept.
"""

from __future__ import annotations

import argparse
import difflib
import os
import signal
import sys

import matplotlib

from kt_harness.cli import bench, reproduce, sweep, taxonomy, tutorial, unlearn, world

matplotlib.use("Agg")

SUBCOMMANDS = (world, taxonomy, unlearn, reproduce, sweep, tutorial, bench)
BAD_INPUT = (KeyError, ValueError, FileNotFoundError, RuntimeError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kt", description="Knowledge-tracing unlearning for CLIP."
    )
    help = "show the traceback of an error (also KT_DEBUG=1)"
    parser.add_argument("--debug", action="store_true", help=help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def _leaf(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The innermost (sub)parser that `argv` names."""
    for token in argv:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if subs and token in subs[0].choices:
            parser = subs[0].choices[token]
    return parser


def _terminate(signum, frame):  # SIGTERM unwinds like Ctrl-C, so `finally` blocks remove temp files
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("KT_DEBUG") == "1"
    parser = build_parser()
    argv = [a for a in argv if a != "--debug"]
    names = [m.__name__.rsplit(".", 1)[1] for m in SUBCOMMANDS]
    if argv and not argv[0].startswith("-") and argv[0] not in names:
        close = difflib.get_close_matches(argv[0], names, n=2, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        parser.error(f"unknown command {argv[0]!r}; {hint}(commands: {', '.join(names)})")
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the subcommand's parser: `kt unlearn: error: unrecognized arguments`
        _leaf(parser, argv).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 0
    previous = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        return args.func(args) or 0
    except KeyboardInterrupt as err:
        why = err.args[0] if err.args else "SIGINT"
        print(  # a progress bar may hold the line: start a fresh one
            f"\nkt {args.command}: stopped by {why}; unfinished checkpoints and caches were not written",
            file=sys.stderr,
        )
        return 143 if why == "SIGTERM" else 130
    except Exception as err:  # noqa: BLE001 - one line for the user; --debug for the traceback
        if debug:
            raise
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        kind = "" if isinstance(err, (*BAD_INPUT, OSError)) else f"{type(err).__name__}: "
        print(
            f"kt {args.command}: error: {kind}{msg}"
            + ("" if isinstance(err, BAD_INPUT) else " (rerun with --debug for the traceback)"),
            file=sys.stderr,
        )
        return 2 if isinstance(err, BAD_INPUT) else 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
