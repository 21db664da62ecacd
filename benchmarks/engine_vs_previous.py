"""Side by side with the previous engine: one default run (forget Samoyed, nhl_kl, 48 steps, scope all)
timed in this checkout and in a worktree of the engine before, in alternating processes on one machine.

    git worktree add /tmp/ref 43e1284
    .venv/bin/python benchmarks/engine_vs_previous.py 2
    (cd /tmp/ref && PYTHONPATH=/tmp/ref <repo>/.venv/bin/python <repo>/benchmarks/engine_vs_previous.py 2)

Each process times `Experiment(["Samoyed"]).run("nhl_kl")` N times from a fresh run cache
and an evaluator holding only the original model's predictions (the API both engines have) and prints one
JSON list: total and training seconds, Q and U. Recorded: benchmarks/engine_vs_previous.json.
"""

import json
import sys
import time
import warnings

import torch

from kt_lib.cache import RunCache
from kt_lib.experiment import Experiment


def main(repeats: int) -> None:
    warnings.simplefilter("ignore")
    torch.set_num_threads(2)
    exp = Experiment(["Samoyed"], cache=None)
    fingerprint, out = exp.fingerprint, []
    exp.before  # noqa: B018 (computed once, not part of a run)
    for _ in range(repeats):
        exp.cache = RunCache()
        for key in [k for k in exp.evaluator._cache if k != fingerprint]:
            del exp.evaluator._cache[key]
        start = time.perf_counter()
        row = exp.run("nhl_kl")
        total = time.perf_counter() - start
        out.append(dict(total=total, train=row["seconds"], Q=row["Q"], U=row["U"]))
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
