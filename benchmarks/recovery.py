"""Is it really gone? The relearning attack on random requests (issue 22 item 5).

    .venv/bin/python benchmarks/recovery.py [--requests 6] [--seeds 0 1] [--out benchmarks/recovery.md]

Draws `--requests` random requests of 1-4 breeds the original model knows (as benchmarks/random_requests.py,
its own draw seed), unlearns each with GA, NHL, NHL+KL (default budget: 48 steps at batch 32, the world
model's lr, 30 proxy images per breed) and the training-free projection under every seed in `--seeds`, then
attacks the original and every unlearned model (kt_lib.recovery): fine-tuning on k=5 proxy images per
forgotten breed, and (`--attacks ... siblings`) on k=5 images of each sibling breed only, for 0..32 steps at the model's own lr, the
seed also seeding the attack. Evaluated on `--eval-per-class` test images per breed (default 10, to fit a
shared CPU). A never-learned model is used (residual column) only where `kt world --retrain --without`
cached one for exactly the request. Writes per-method means over all (request, seed) runs.
"""

import platform
import time
from pathlib import Path

import pandas as pd
import torch
from random_requests import parser, random_requests

from kt_lib.eval import recovery
from kt_lib.experiment import Experiment

METHODS = ("ga", "nhl", "nhl_kl", "projection")
K = 5


def attack(exp, models, seed, attacks):
    frames = []
    for name in attacks:
        try:
            frames.append(recovery.curves(exp, models, ks=[K], attacks=[name], seed=seed))
        except ValueError as err:  # e.g. a request holding a whole group has no sibling left
            print(f"  {name}: skipped ({err})")
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    ap = parser(6, "benchmarks/recovery.md")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--attacks", nargs="+", default=["forget", "siblings"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer, requests = random_requests(args)
    rows, start = [], time.perf_counter()
    for i, request in enumerate(requests):
        exp = Experiment(request, model, tokenizer, eval_per_class=args.eval_per_class)
        never = recovery.never_learned(exp.forget)
        for seed in args.seeds:
            runs = {m: exp.run(m, seed=seed) for m in METHODS}
            models = {"original": model, **{m: exp.result(r).model for m, r in runs.items()}}
            if never is not None:
                models[recovery.REFERENCE] = never
            summary = recovery.summarize(
                attack(exp, models, seed, args.attacks), exp.before["forget_fine"]
            )
            for r in summary.itertuples():
                run = runs.get(r.model, {})
                row = dict(request=i, forget=" | ".join(exp.forget), seed=seed, model=r.model)
                row.update(attack=r.attack, Q=run.get("Q"), U=run.get("U"))
                row.update(original=exp.before["forget_fine"], start=r.start, end=r.end)
                rows.append(dict(row, steps_to_half=r.steps_to_half, residual=r.residual))
            print(
                f"[{time.perf_counter() - start:.0f} s] request {i} {request} seed {seed}: "
                + "  ".join(
                    f"{r.model} {r.attack} end {r.end:.2f} half@{r.steps_to_half}"
                    for r in summary.itertuples()
                ),
                flush=True,
            )
            df = pd.DataFrame(rows)  # written after every run: a stopped run keeps what it did
            df.to_csv(Path(args.out).with_suffix(".csv"), index=False)
            write_table(df, args, time.perf_counter() - start)


def write_table(df: pd.DataFrame, args, seconds: float) -> None:
    n = df.groupby(["request", "seed"]).ngroups
    lines = [
        f"Produced by `.venv/bin/python benchmarks/recovery.py --requests {args.requests} --seeds "
        f"{' '.join(map(str, args.seeds))} --attacks {' '.join(args.attacks)}` on {platform.processor() or platform.machine()}, "
        f"{args.threads} thread(s), torch {torch.__version__}, {time.strftime('%Y-%m-%d')}, "
        f"{seconds:.0f} s; {n} (request, seed) runs, {args.eval_per_class} test images per breed, "
        f"k = {K} images per concept.",
        "",
        "| model | Q | U | attack | start | end (32 steps) | back to half within 32 steps | "
        "median steps to half | residual (runs with a never-learned model) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (model, attack), g in df.groupby(["model", "attack"], sort=False):
        half = g.steps_to_half.dropna()
        res = g.residual.dropna()
        q = "" if g.Q.isna().all() else f"{g.Q.mean():.2f}"
        u = "" if g.U.isna().all() else f"{g.U.mean():.2f}"
        lines.append(
            f"| {model} | {q} | {u} | {attack} | {g.start.mean():.2f} | {g.end.mean():.2f} | "
            f"{len(half)}/{len(g)} | {half.median() if len(half) else 'n/a'} | "
            f"{f'{res.mean():.2f} ({len(res)})' if len(res) else 'n/a'} |"
        )
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
