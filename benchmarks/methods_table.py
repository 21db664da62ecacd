"""All methods x three target sets on the embedded world (CPU): Q, U, Q-U, OOD, zero-shot utility, and what
each run cost: training seconds, peak memory and the parameters it changed (`kt_lib.efficiency`).

    .venv/bin/python benchmarks/methods_table.py [--sets A B C] [--out benchmarks/methods_table.md]

Every method gets the same budget: the tiny model's default lr (2e-4), the default 48 optimiser steps at batch 32, 30 proxy images per breed, seed 0.
"""

import argparse
import platform
import time
from pathlib import Path

import pandas as pd
import torch

from kt_lib.experiment import Experiment
from kt_lib.methods import METHODS

SETS = {
    "A": [
        "German short-haired pointer",
        "West Highland white terrier",
        "golden retriever",
        "Samoyed",
    ],
    "B": ["beagle", "Border collie", "Doberman", "Irish setter"],
    "C": ["Pomeranian", "keeshond", "Labrador retriever", "Airedale"],
}
SHOWN = ["set", "label", "Q", "U", "QU", "drawing_Q", "drawing_QU", "zero_shot_utility", "seconds"]
SHOWN += ["peak_memory_mb", "memory_added_mb", "params_changed", "tensors_changed"]
VARIANTS = [
    ("nhl_kl (alpha_f=0)", dict(method="nhl_kl", alpha_fine=0.0)),
    ("nhl_kl (alpha_c=0)", dict(method="nhl_kl", alpha_coarse=0.0)),
]


MEMORY = (
    "Cost columns (`kt_lib.efficiency`, one process for the whole table): max peak MiB, the largest peak "
    "memory of a method's runs ({memory}: the model, the world's images and what earlier runs left "
    "included); max added MiB, the most it rose above what was in use when a run began (memory the "
    "process had freed and reused is not counted); params changed, the mean share of the model's "
    "parameters whose value differs from the original's after unlearning; tensors changed, of how many."
)


def cost(g) -> str:
    """A method's cost cells: max peak and added memory, mean share of parameters changed, tensors."""
    share = 100 * (g.params_changed / g.params_total).mean()
    tensors = f"{g.tensors_changed.mean():.0f} of {g.tensors_total.iloc[0]}"
    return (
        f"{g.peak_memory_mb.max():.0f} | {g.memory_added_mb.max():.0f} | {share:.1f}% | {tensors} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--out", default="benchmarks/methods_table.md")
    args = ap.parse_args()
    torch.set_num_threads(2)
    frames = []
    for name in args.sets:
        exp = Experiment(SETS[name])
        df = exp.compare(args.methods + VARIANTS)
        df.insert(0, "set", name)
        frames.append(df)
        print(df[SHOWN].round(3).to_string())
    df = pd.concat(frames)
    lines = [
        f"Produced by `.venv/bin/python benchmarks/methods_table.py` on {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}.",
        "",
        "| method | "
        + " | ".join(f"Q-U {s}" for s in args.sets)
        + " | mean Q | mean U | mean Q-U | mean OOD Q | mean OOD Q-U | mean zero-shot util | mean train s |"
        + " max peak MiB | max added MiB | params changed | tensors changed |",
        "|---|" + "---|" * (len(args.sets) + 11),
    ]
    for method, g in df.groupby("label", sort=False):  # label: the method or a named variant
        per_set = " | ".join(f"{100 * g[g.set == s].QU.iloc[0]:.1f}" for s in args.sets)
        lines.append(
            f"| {method} | {per_set} | {100 * g.Q.mean():.1f} | {100 * g.U.mean():.1f} | {100 * g.QU.mean():.1f} | "
            f"{100 * g.drawing_Q.mean():.1f} | {100 * g.drawing_QU.mean():.1f} | {100 * g.zero_shot_utility.mean():.1f} | {g.seconds.mean():.1f} | "
            + cost(g)
        )
    lines += ["", MEMORY.format(memory=df.memory.iloc[0])]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
