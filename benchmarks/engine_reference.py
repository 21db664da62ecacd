"""Record an engine's metrics on a fixed set of runs: the reference a new engine is checked against.

    git worktree add /tmp/ref 43e1284
    PYTHONPATH=/tmp/ref .venv/bin/python benchmarks/engine_reference.py tests/data/engine_reference.json

runs the engine of that commit (PYTHONPATH puts its kt_lib first). tests/test_engine.py compares the
current engine with the file, within its stated tolerance.
"""

import json
import subprocess
import sys

import torch

from kt_lib.experiment import Experiment

KEYS = ["Q", "U", "QU", "drawing_Q", "drawing_U", "zero_shot_utility"]
C3 = ["Pomeranian", "keeshond", "Labrador retriever"]
RUNS = [  # (forget, method, seed, overrides): methods of every kind, 1-3 breeds, seeds, towers
    (["Samoyed"], "nhl_kl", 0, {}),
    (["Samoyed"], "nhl_kl", 1, {}),
    (["beagle", "Border collie"], "nhl_kl", 0, {}),
    (["beagle", "Border collie"], "ga", 0, {}),
    (["beagle", "Border collie"], "npo_kl", 0, {}),
    (C3, "nhl_kl", 1, {"margin": 0.5, "alpha_fine": 0.0}),
    (C3, "ga_kl", 0, {}),
    (["golden retriever"], "nhl", 0, {"towers": "image"}),
    (["golden retriever"], "salun", 0, {}),
    (["golden retriever"], "task_vector", 0, {}),
]


def main(path: str) -> None:
    out, exps = [], {}
    for forget, method, seed, kw in RUNS:
        exp = exps[tuple(forget)] = exps.get(tuple(forget)) or Experiment(forget)
        row = exp.run(method, seed=seed, **kw)
        after = {k: v for k, v in row.items() if k.startswith("after_")}
        out.append(
            dict(forget=forget, method=method, seed=seed, overrides=kw, after=after)
            | {k: row[k] for k in KEYS}
        )
        print(forget, method, seed, kw, {k: round(row[k], 4) for k in KEYS}, flush=True)
    git = ["git", "rev-parse", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    report = dict(commit=commit, torch=torch.__version__, runs=out)
    with open(path, "w") as fh:
        json.dump(report, fh, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
