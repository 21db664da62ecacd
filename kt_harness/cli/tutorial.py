"""`kt tutorial`: the tutorial's main job on the embedded default.

Loads (or pretrains once) the world model, reports what it knows, draws the world, then executes every
numbered notebook with papermill into the output folder, renders each as HTML, and writes
`index.html` (links, run times, recorded results) and `summary.json`; prints the summary.

`--jobs N` notebooks run at once; two that need the same run share it through the machine's run cache
(one computes it, the other waits for its row: `RunCache.claim`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from unittest import mock

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# The kernel's own log (not the notebook's output, warnings or errors, which papermill reports) says only
# that it talks to papermill "over TCP without encryption" (on localhost, from this process) and, now and
# then, "KeyboardInterrupt caught in kernel": jupyter_client interrupts every kernel it shuts down.
QUIET_KERNEL = ["--IPKernelApp.log_level=CRITICAL"]
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def register(sub) -> None:
    p = sub.add_parser("tutorial", help="run the whole tutorial on the embedded default")
    help = "folder for executed notebooks, figures and the summary"
    p.add_argument("--out", default="outputs", help=help)
    help = "run the notebooks with SMOKE=True (minutes, not tens)"
    p.add_argument("--smoke", action="store_true", help=help)
    help = "run only notebooks whose name contains this (repeatable)"
    p.add_argument("--only", action="append", help=help)
    help = "notebooks run at once, each on OMP_NUM_THREADS (else cores) / jobs threads"
    help += " (default: 2 with >= 2 cores, else 1)"
    p.add_argument("--jobs", type=int, default=None, help=help)
    p.set_defaults(func=run)


def longest_first(notebooks: list[Path]) -> list[Path]:
    """`notebooks` ordered by their recorded time (`benchmarks/tutorial_times.json`), longest first, so two
    at a time finish together; the file's order where nothing is recorded."""
    record = NOTEBOOKS.parent / "benchmarks" / "tutorial_times.json"
    try:
        times = json.loads(record.read_text())["notebooks"]
    except (OSError, ValueError, KeyError):
        times = {}
    return sorted(notebooks, key=lambda nb: -float(times.get(nb.stem, 0.0)))


@contextlib.contextmanager
def kernel_threads(jobs: int):
    """Kernels started inside share this process's threads, threads / jobs each (at least 1): its THREAD_VARS
    where set (a user's OMP_NUM_THREADS=4 is the whole run's budget), else every core. They inherit THREAD_VARS;
    this process's environment is restored afterwards. (Leaving a set value as it was gave each of `jobs`
    kernels the whole budget: under `make test -n 1`, two kernels on 2 threads each on 2 cores, every smoke
    notebook about 4 times slower.)"""
    with mock.patch.dict(os.environ):
        for v in THREAD_VARS:
            given = os.environ.get(v, "")
            budget = int(given) if given.isdigit() and int(given) > 0 else os.cpu_count() or 1
            os.environ[v] = str(max(1, budget // jobs))
        yield


def run_all(notebooks: list[Path], out: Path, smoke: bool, jobs: int) -> dict[str, dict]:
    """Execute `notebooks` into `out`, `jobs` at a time (each kernel on 1/jobs of the threads:
    `kernel_threads`), each rendered as HTML: {name: {seconds, results, html}}. The first failure stops
    what has not started and is raised once the running notebooks end."""
    from kt_lib.notebook.record import read_results
    from kt_lib.notebook.report import render_html

    done = {}

    def one(nb: Path) -> None:
        t0 = time.perf_counter()
        print(f"running {nb.name} ...\n", end="", flush=True)  # one write: two threads print
        execute(nb, out / nb.name, smoke=smoke)
        seconds = round(time.perf_counter() - t0, 1)
        if jobs > 1:
            print(f"  {nb.name} done in {seconds:.1f} s\n", end="", flush=True)
        results, html = read_results(out / nb.name), render_html(out / nb.name).name
        done[nb.name] = dict(seconds=seconds, results=results, html=html)

    order = longest_first(notebooks) if jobs > 1 else notebooks
    with kernel_threads(jobs), ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(one, nb) for nb in order]
        for f in wait(futures, return_when=FIRST_EXCEPTION).not_done:
            f.cancel()
        for f in futures:
            if f.done() and not f.cancelled() and f.exception() is not None:
                raise f.exception()
    return done


def execute(notebook: Path, target: Path, smoke: bool, cell_timeout: float | None = None) -> None:
    """Run one notebook with papermill, its kernel in the notebook's folder (SMOKE=smoke, INTERACTIVE=False),
    into `target`, the kernel's own log quiet (`QUIET_KERNEL`); a cell running longer than `cell_timeout`
    seconds fails it. The kernel's folder goes to nbclient (`resources`), not papermill's `cwd`: that one
    chdirs this whole process, and two notebooks at once (`run_all`) then leave it in the wrong folder, where
    relative paths (`kt tutorial --out outputs`) no longer resolve."""
    import papermill as pm

    pm.execute_notebook(
        str(notebook.resolve()),
        str(target),
        parameters=dict(SMOKE=smoke, INTERACTIVE=False),
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.resolve().parent)}},
        progress_bar=False,
        extra_arguments=QUIET_KERNEL,
        execution_timeout=cell_timeout,
    )


def run(args) -> int:
    from kt_harness.cli.world import report
    from kt_lib.notebook.report import write_index

    notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if NOTEBOOKS.exists() else []
    if args.only:
        notebooks = [nb for nb in notebooks if any(s in nb.name for s in args.only)]
    if not notebooks:
        where = f"{NOTEBOOKS}" + (
            "" if NOTEBOOKS.exists() else " (missing: an installed wheel carries no notebooks)"
        )
        only = f" matching {args.only}" if args.only else ""
        raise FileNotFoundError(
            f"no notebooks{only} in {where}; run kt tutorial from a clone of the repository "
            "(pip install -e .)"
        )
    jobs = min(2, os.cpu_count() or 1) if args.jobs is None else args.jobs
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    report(json_path=str(out / "world.json"), samples=str(out / "world_samples.png"), reuse=True)
    done = run_all(notebooks, out, args.smoke, jobs)
    summary = [dict(notebook=nb.name, **done[nb.name]) for nb in notebooks]
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    index = write_index(out, summary)
    for row in summary:
        shown = {
            k: (round(v, 3) if isinstance(v, float) else v)
            for k, v in row["results"].items()
            if isinstance(v, (int, float, str))
        }
        print(f"{row['notebook']:40s} {row['seconds']:7.1f} s  {json.dumps(shown)[:160]}")
    print(
        f"tutorial done in {time.perf_counter() - start:.0f} s; open {index} to browse the results"
    )
    return 0
