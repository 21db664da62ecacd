"""`kt tutorial`: the tutorial's main job on the embedded default.

Loads (or pretrains once) the world model, reports what it knows, draws the world, then executes every
numbered notebook with papermill into the output folder, renders each as HTML, and writes
`index.html` (links, run times, recorded results) and `summary.json`; prints the summary.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# The kernel's own log (not the notebook's output or warnings) says only, once per notebook, that it talks
# to papermill "over TCP without encryption": on localhost, from this process. Its errors still show.
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]


def register(sub) -> None:
    p = sub.add_parser("tutorial", help="run the whole tutorial on the embedded default")
    p.add_argument(
        "--out", default="outputs", help="folder for executed notebooks, figures and the summary"
    )
    p.add_argument(
        "--smoke", action="store_true", help="run the notebooks with SMOKE=True (minutes, not tens)"
    )
    p.add_argument(
        "--only", action="append", help="run only notebooks whose name contains this (repeatable)"
    )
    p.set_defaults(func=run)


def execute(notebook: Path, target: Path, smoke: bool) -> None:
    """Run one notebook with papermill in its own folder (SMOKE=smoke, INTERACTIVE=False) into `target`,
    the kernel's own log quiet (`QUIET_KERNEL`)."""
    import papermill as pm

    pm.execute_notebook(
        str(notebook),
        str(target),
        parameters=dict(SMOKE=smoke, INTERACTIVE=False),
        kernel_name="python3",
        cwd=str(notebook.parent),
        progress_bar=False,
        extra_arguments=QUIET_KERNEL,
    )


def run(args) -> int:
    from kt_lib.cli.world import report
    from kt_lib.notebook.report import render_html, write_index

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
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    report(json_path=str(out / "world.json"), samples=str(out / "world_samples.png"))
    summary = []
    for nb in notebooks:
        from kt_lib.notebook.record import read_results

        t0 = time.perf_counter()
        target = out / nb.name
        print(f"running {nb.name} ...", flush=True)
        execute(nb, target, smoke=args.smoke)
        seconds = round(time.perf_counter() - t0, 1)
        summary.append(
            dict(
                notebook=nb.name,
                seconds=seconds,
                results=read_results(target),
                html=render_html(target).name,
            )
        )
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
