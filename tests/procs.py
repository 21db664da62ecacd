"""Helpers for tests that start `kt` in a child process and signal it."""

import signal
import sys


def default_sigint() -> None:
    """`preexec_fn` for a child that must get Ctrl-C: a shell that runs pytest as a background job starts
    it with SIGINT ignored, children inherit that, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kt(*args) -> list[str]:
    """The argv of `kt ARGS...` run by this interpreter (`python -m kt_harness`), paths as strings."""
    return [sys.executable, "-m", "kt_harness", *map(str, args)]


def kt_sweep(cfg, out) -> list[str]:
    """`kt sweep CFG --out OUT --no-progress`: a sweep whose output folder the test reads."""
    return kt("sweep", cfg, "--out", out, "--no-progress")
