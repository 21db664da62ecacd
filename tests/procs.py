"""Helpers for tests that start `kt` in a child process and signal it."""

import signal


def default_sigint() -> None:
    """`preexec_fn` for a child that must get Ctrl-C: a shell that runs pytest as a background job starts
    it with SIGINT ignored, children inherit that, and Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
