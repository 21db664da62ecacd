"""Requests one after another (MUSE's sustainability protocol): does an earlier request stay forgotten, and
does utility erode, as later requests are unlearned from the model the earlier ones left?

    .venv/bin/python benchmarks/sequential.py [--draws 2] [--draw-seed 2026] [--seeds 0 1]
        [--methods projection nhl_kl npo_kl ga_kl] [--eval-per-class 10] [--out benchmarks/sequential.md]

Each draw picks 4 breeds the original model knows (fine accuracy >= 0.3, so Q is defined) at random
(`--draw-seed` + the draw's index; not picked by hand), in the drawn order: request 1 is the first breed,
request 2 the second, and so on. Every method runs the 4 requests in turn (`kt_lib.sequential.sequence`) at
the default budget under every training seed. The .md is rewritten after every sequence with its scope
line, so a run stopped early records what finished.
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
from kt_lib.presets import budget_label
from kt_lib.sequential import sequence
from kt_lib.unlearn import UnlearnConfig
from kt_lib.world.model import world_model

REQUESTS = 4


def draw(known: list[str], index: int, seed: int) -> list[str]:
    """Draw `index`'s 4 breeds, in order, from `known`."""
    return np.random.default_rng(seed + index).choice(known, REQUESTS, replace=False).tolist()


def write(args, draws, rows, started, plan, done) -> None:
    flags = f"--draws {args.draws} --draw-seed {args.draw_seed} --seeds {' '.join(map(str, args.seeds))} "
    flags += f"--methods {' '.join(args.methods)} --eval-per-class {args.eval_per_class}"
    lines = [
        "# Requests one after another (MUSE's sustainability protocol)",
        "",
        f"Produced by `nice -n 10 .venv/bin/python benchmarks/sequential.py {flags}` on {platform.machine()}, "
        f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
        f"{(time.time() - started) / 60:.0f} min wall on a shared 2-core machine under load (no timings are "
        "reported).",
        "",
        f"**Scope.** {done} of {plan} planned sequences finished ({args.draws} draws x "
        f"{len(args.seeds)} training seeds x {len(args.methods)} methods). Each draw: {REQUESTS} breeds the "
        f"original model knows (fine accuracy >= 0.3), drawn at random with seed {args.draw_seed} + the "
        "draw's index, unlearned in the drawn order, one breed per request, each from the model the request "
        "before left (`kt_lib.sequential.sequence`). Default budget per request "
        f"({budget_label(asdict(UnlearnConfig()))}, batch 32, 30 proxy images per breed), "
        f"{args.eval_per_class} test images per breed and domain. Every score is against the original model: "
        "`Q r1..r4` is request j's Q after request i (the matrix's row i), `U` the utility on the breeds no "
        "request so far has forgotten, `zs` the zero-shot utility on the world's other families. A phenomenon "
        "seen on fewer sequences than planned is a finding on those sequences only.",
        "",
        "Draws: " + "; ".join(f"{i}: {' -> '.join(d)}" for i, d in enumerate(draws)) + ".",
        "",
    ]
    df, qs = pd.DataFrame(rows), [f"Q r{j}" for j in range(1, REQUESTS + 1)]
    lines += ["### Per method, mean over the finished sequences", ""]
    head = ["method", "sequences", "Q r1 after r1", "Q r1 after r4"]
    head += ["min Q of an earlier request after r4", *(f"U after r{s}" for s in range(1, 5))]
    lines += [row(head + ["zs after r1", "zs after r4"]), "|" + "---|" * (len(head) + 2)]
    for method in [m for m in args.methods if m in set(df.method)]:
        m = df[df.method == method]
        first, last = m[m.step == 1], m[m.step == REQUESTS]
        cells = [method, len(first), first["Q r1"].mean(), last["Q r1"].mean()]
        cells += [last[qs[:-1]].min(axis=1).min(), *(m[m.step == s].U.mean() for s in range(1, 5))]
        lines.append(row(cells + [first.zs.mean(), last.zs.mean()]))
    cols = ["draw", "seed", "method", "step", "request", *qs, "Q", "U", "zs"]
    lines += ["", "### Every step", "", row(cols), "|" + "---|" * len(cols)]
    lines += [row([r[c] for c in cols]) for r in rows]
    lines += ["", "## Findings (by hand, from the tables above)", "", "(to be written)"]
    old = Path(args.out).read_text() if Path(args.out).exists() else ""
    if "## Findings" in old and "(to be written)" not in old.partition("## Findings")[2]:  # by hand
        lines[-3:] = ["", "## Findings" + old.partition("## Findings")[2].rstrip("\n")]
    write_bytes(Path(args.out), ("\n".join(lines) + "\n").encode())


def row(cells) -> str:
    """A markdown table row: numbers to 3 decimals, a missing Q as '-'."""
    fmt = lambda v: "-" if v is None or v != v else f"{v:.3f}"  # noqa: E731
    return "| " + " | ".join(str(c) if isinstance(c, str | int) else fmt(c) for c in cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=2)
    ap.add_argument("--draw-seed", type=int, default=2026)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--methods", nargs="+", default=["projection", "nhl_kl", "npo_kl", "ga_kl"])
    ap.add_argument(
        "--eval-per-class", type=int, default=10, help="test images per breed and domain"
    )
    ap.add_argument("--out", default="benchmarks/sequential.md")
    args = ap.parse_args()
    torch.set_num_threads(1)  # on a loaded 2-core machine two threads spin-wait on each other
    started = time.time()
    model, tokenizer, _ = world_model(progress=False)
    probe = Experiment(["vizsla"], model, tokenizer, eval_per_class=args.eval_per_class)
    per_class = probe.evaluator.per_class(model, tokenizer)
    known = sorted(c for lv in difficulty_levels(per_class).values() for c in lv)
    draws = [draw(known, i, args.draw_seed) for i in range(args.draws)]
    plan, done, rows = args.draws * len(args.seeds) * len(args.methods), 0, []
    for seed in args.seeds:  # every draw under seed 0 first: a stopped run still covers the draws
        for d, breeds in enumerate(draws):
            exp = Experiment([breeds[0]], model, tokenizer, data=probe.data)
            for method in args.methods:
                seq = sequence(exp, breeds[1:], method, seed=seed)
                for step in seq["steps"]:
                    qs = {f"Q r{j + 1}": q for j, q in enumerate(step["Q_requests"])}
                    qs = {f"Q r{j}": qs.get(f"Q r{j}") for j in range(1, REQUESTS + 1)}
                    row = dict(draw=d, seed=seed, method=method, step=step["step"])
                    row.update(request=" + ".join(step["request"]), **qs)
                    rows.append(dict(row, Q=step["Q"], U=step["U"], zs=step["zero_shot_utility"]))
                    print(rows[-1], flush=True)
                done += 1
                write(args, draws, rows, started, plan, done)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
