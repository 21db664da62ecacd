"""Helpers for tests that start `kt` in a child process and signal it, and for sharing the cores between
`make test`'s pytest-xdist workers."""

import contextlib
import os
import signal
import sys
from pathlib import Path


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


@contextlib.contextmanager
def cores(alone: bool):
    """Under `make test`'s pytest-xdist workers, what is `alone` runs while no other test does (the other
    worker waits between tests); everything else shares the cores. Two flock(2) files: the gate makes a
    waiting `alone` test go before tests that start after it. An `alone` test has every core: torch's threads
    and OMP/MKL_NUM_THREADS for what it starts, given back afterwards. Without xdist, nothing to share."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    import fcntl

    import torch

    folder = Path(os.environ["KT_CACHE"])
    folder.mkdir(parents=True, exist_ok=True)
    with (
        open(folder / "tests-gate.lock", "a") as gate,
        open(folder / "tests-cores.lock", "a") as held,
    ):
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(held, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        fcntl.flock(gate, fcntl.LOCK_UN)
        if not alone:
            yield
            return
        every, threads = str(os.cpu_count() or 1), torch.get_num_threads()
        env = {var: os.environ.get(var) for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        os.environ.update(dict.fromkeys(env, every))
        torch.set_num_threads(int(every))
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            for var, value in env.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value
