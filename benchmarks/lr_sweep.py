"""Learning-rate sweep on the default request (embedded world, CPU): why the tiny model's default lr is 2e-4.

.venv/bin/python benchmarks/lr_sweep.py [--lrs 1e-4 2e-4 3e-4] [--out benchmarks/lr_sweep.md]
"""

import argparse
import platform
import time
from pathlib import Path

import torch

from kt_lib.experiment import Experiment

METHODS = [
    "ga",
    "ga_kl",
    "nhl",
    "nhl_kl",
    "npo_kl",
    ("nhl_kl (alpha_f=0)", dict(method="nhl_kl", alpha_fine=0.0)),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lrs", nargs="+", type=float, default=[1e-4, 2e-4, 3e-4])
    ap.add_argument("--out", default="benchmarks/lr_sweep.md")
    args = ap.parse_args()
    torch.set_num_threads(2)
    exp = Experiment()
    lines = [
        f"Produced by `.venv/bin/python benchmarks/lr_sweep.py` on {platform.machine()} CPU, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}. "
        f"Request: {', '.join(exp.forget)}; 30 proxy images per breed, 8 epochs, batch 32. Values in %.",
        "",
        "| lr | method | Q | U | Q-U | OOD (drawing) Q | OOD Q-U | zero-shot util | forget coarse after | retain fine after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lr in args.lrs:
        df = exp.compare(METHODS, lr=lr)
        for _, r in df.iterrows():
            lines.append(
                f"| {lr:g} | {r.method} | {100 * r.Q:.1f} | {100 * r.U:.1f} | {100 * r.QU:.1f} | {100 * r.drawing_Q:.1f} | "
                f"{100 * r.drawing_QU:.1f} | {100 * r.zero_shot_utility:.1f} | {100 * r.after_forget_coarse:.1f} | "
                f"{100 * r.after_retain_fine:.1f} |"
            )
        print("\n".join(lines[-len(df) :]), flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
