"""Record the run time of the whole tutorial (`make tutorial` = `kt tutorial --out DIR`) for the README.

    export KT_CACHE=$(mktemp -d)
    .venv/bin/kt tutorial --out /tmp/tut              # a fresh cache: the world is rendered too
    .venv/bin/kt tutorial --out /tmp/tut-warm         # again: every run and result comes from the cache
    .venv/bin/python benchmarks/tutorial_times.py /tmp/tut --total SECONDS \
        --warm /tmp/tut-warm --warm-total SECONDS --note "machine and load"

Writes `benchmarks/tutorial_times.json` from the runs' `summary.json` (each notebook's seconds) and the totals
the command printed. `tests/test_hygiene.py` checks that the README quotes these times.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from kt_lib.cachefile import write_bytes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", help="the folder `kt tutorial --out` wrote")
    ap.add_argument("--total", type=float, required=True, help="'tutorial done in N s' of that run")
    ap.add_argument("--warm", help="the folder of a second run with the same KT_CACHE")
    ap.add_argument("--warm-total", type=float, help="'tutorial done in N s' of the second run")
    ap.add_argument(
        "--jobs", type=int, default=2, help="the --jobs the runs used (kt tutorial's default)"
    )
    ap.add_argument("--note", default="", help="the machine and its load during the run")
    ap.add_argument("--json", default="benchmarks/tutorial_times.json")
    args = ap.parse_args()
    summary = json.loads((Path(args.out) / "summary.json").read_text())
    record = dict(
        command=f"KT_CACHE=$(mktemp -d) kt tutorial --out {args.out}",
        jobs=args.jobs,
        machine=f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        note=args.note,
        date=time.strftime("%Y-%m-%d"),
        total_seconds=args.total,
        notebooks={Path(r["notebook"]).stem: r["seconds"] for r in summary},
    )
    if args.warm:
        warm = json.loads((Path(args.warm) / "summary.json").read_text())
        record["warm"] = dict(
            command=f"kt tutorial --out {args.warm} (the same KT_CACHE, right after)",
            total_seconds=args.warm_total,
            notebooks={Path(r["notebook"]).stem: r["seconds"] for r in warm},
        )
    write_bytes(Path(args.json), (json.dumps(record, indent=2) + "\n").encode())
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
