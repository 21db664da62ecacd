"""Do the headline phenomena hold on random requests, not just on the documented sets A/B/C?

    .venv/bin/python benchmarks/random_requests.py [--requests 12] [--seeds 0 1] [--out benchmarks/random_requests.md]

Draws `--requests` random requests of 1-4 breeds the original model knows (fine accuracy >= 0.3, so Q is
defined), each with its own draw seed, and runs GA, GA+KL and NHL+KL at the default budget (the world
model's default lr, 48 optimiser steps at batch 32 whatever the request size, 30 proxy images per breed)
under every training seed in `--seeds`,
evaluated on `--eval-per-class` test images per breed and domain (default 10, to fit a shared CPU).
Reports, over all (request, seed) runs, the share where GA collapses (U < 0.3), where NHL+KL keeps
Q-U >= 0.90, and where NHL+KL beats GA+KL on Q-U.
"""

import argparse
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from kt_lib.cachefile import write_bytes
from kt_lib.eval.evaluator import difficulty_levels
from kt_lib.experiment import Experiment
from kt_lib.models import load_model
from kt_lib.presets import budget_label
from kt_lib.unlearn import UnlearnConfig

METHODS = ("ga", "ga_kl", "nhl_kl")


def draw_requests(known: list[str], n: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [
        sorted(rng.choice(known, size=int(rng.integers(1, 5)), replace=False).tolist())
        for _ in range(n)
    ]


def parser(requests: int, out: str) -> argparse.ArgumentParser:
    """The options this script and benchmarks/recovery.py share."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=requests)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--draw-seed", type=int, default=2026)
    help = "test images per breed and domain"
    ap.add_argument("--eval-per-class", type=int, default=10, help=help)
    ap.add_argument("--out", default=out)
    return ap


def random_requests(args):
    """(model, tokenizer, `--requests` requests of breeds the original model knows, drawn)."""
    model, _, tokenizer = load_model(device="cpu", progress=False)
    probe = Experiment(["vizsla"], model, tokenizer, eval_per_class=args.eval_per_class)
    per_class = probe.evaluator.per_class(model, tokenizer)
    known = sorted(c for lv in difficulty_levels(per_class).values() for c in lv)
    return model, tokenizer, draw_requests(known, args.requests, args.draw_seed)


def main() -> None:
    args = parser(12, "benchmarks/random_requests.md").parse_args()
    torch.set_num_threads(2)
    model, tokenizer, requests = random_requests(args)
    rows, start = [], time.perf_counter()
    for i, request in enumerate(requests):
        exp = Experiment(request, model, tokenizer, eval_per_class=args.eval_per_class)
        for seed in args.seeds:
            for method in METHODS:
                r = exp.run(method, seed=seed)
                row = dict(request=i, breeds="; ".join(request), seed=seed, method=method)
                rows.append(dict(row, **{k: r[k] for k in ("Q", "U", "QU")}))
            last = pd.DataFrame(rows[-3:]).set_index("method")
            print(
                f"request {i} seed {seed} ({len(request)} breeds): "
                + "  ".join(f"{m} U {last.U[m]:.2f} Q-U {last.QU[m]:.2f}" for m in METHODS),
                flush=True,
            )
    df = pd.DataFrame(rows)
    wide = df.pivot_table(index=["request", "seed"], columns="method", values=["U", "QU"])
    n = len(wide)
    ga_collapse = float((wide["U"]["ga"] < 0.3).mean())
    nhl_keeps = float((wide["QU"]["nhl_kl"] >= 0.90).mean())
    nhl_beats = float((wide["QU"]["nhl_kl"] > wide["QU"]["ga_kl"]).mean())
    minutes = (time.perf_counter() - start) / 60
    lines = [
        f"Produced by `.venv/bin/python benchmarks/random_requests.py --requests {args.requests} "
        f"--seeds {' '.join(map(str, args.seeds))} --eval-per-class {args.eval_per_class}` on {platform.machine()}, 2 threads, torch "
        f"{torch.__version__}, {time.strftime('%Y-%m-%d')}, {minutes:.1f} min.",
        "",
        f"{args.requests} random requests of 1-4 known breeds x {len(args.seeds)} training seeds = "
        f"{n} runs per method, default budget ({budget_label(asdict(UnlearnConfig()))}, batch 32).",
        "",
        "| share of runs | value |",
        "|---|---|",
        f"| GA collapses (U < 0.3) | {100 * ga_collapse:.0f}% |",
        f"| NHL+KL keeps Q-U >= 0.90 | {100 * nhl_keeps:.0f}% |",
        f"| NHL+KL beats GA+KL on Q-U | {100 * nhl_beats:.0f}% |",
        "",
        f"Mean U: GA {wide['U']['ga'].mean():.3f}, GA+KL {wide['U']['ga_kl'].mean():.3f}, "
        f"NHL+KL {wide['U']['nhl_kl'].mean():.3f}. Mean Q-U: GA {wide['QU']['ga'].mean():.3f}, "
        f"GA+KL {wide['QU']['ga_kl'].mean():.3f}, NHL+KL {wide['QU']['nhl_kl'].mean():.3f}.",
        "",
        "| request | breeds | seed | GA U | GA+KL Q-U | NHL+KL Q-U |",
        "|---|---|---|---|---|---|",
    ]
    breeds = df.groupby("request").breeds.first()
    for (req, seed), r in wide.iterrows():
        lines.append(
            f"| {req} | {breeds[req]} | {seed} | {r['U']['ga']:.3f} | "
            f"{r['QU']['ga_kl']:.3f} | {r['QU']['nhl_kl']:.3f} |"
        )
    write_bytes(Path(args.out), ("\n".join(lines) + "\n").encode())
    print("\n".join(lines[:14]))


if __name__ == "__main__":
    main()
