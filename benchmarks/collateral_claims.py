"""Do the collateral-damage and run-integrity claims of notebook 07 hold beyond one request?

    python benchmarks/collateral_claims.py --out /tmp/claims            # the sweep (CSV files), ~24 runs
    python benchmarks/collateral_claims.py --analyze /tmp/claims        # the shares, from the CSV files

Settings: GA, NHL, NHL+KL and NHL+KL with alpha_fine = 0 at lr 2e-4, 8 epochs (`num_epochs=8`: the budget of
the recorded run, made before the default became 48 optimiser steps; 32 steps on a 4-breed request), 30 exemplars,
on request A (the default request) with trainer seeds 0 and 1, and on four random 4-breed requests
(numpy seeds 101-104) with trainer seeds 1-4; 20 test images per breed and domain. For each run it keeps the
per-concept profile (kt_lib.eval.collateral.profile) and the scores; the analysis recomputes the integrity
flags from the scores (kt_lib.integrity.score_flags) and counts, over runs, how often each claim holds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SETTINGS = {
    "ga": dict(method="ga"),
    "nhl": dict(method="nhl"),
    "nhl_kl": dict(method="nhl_kl"),
    "nhl_kl alpha_fine=0": dict(method="nhl_kl", alpha_fine=0.0),
}


def sweep(out: Path) -> None:
    import torch

    from kt_lib.eval import collateral
    from kt_lib.experiment import DEFAULT_FORGET, Experiment
    from kt_lib.world.config import WorldTaxonomy

    torch.set_num_threads(1)
    fine = WorldTaxonomy().fine
    requests = [("A", list(DEFAULT_FORGET), s) for s in (0, 1)]
    for r in range(1, 5):
        rng = np.random.default_rng(100 + r)
        requests.append((f"R{r}", [fine[i] for i in rng.choice(len(fine), 4, replace=False)], r))
    base = Experiment(eval_per_class=20)
    runs, frames = [], []
    out.mkdir(parents=True, exist_ok=True)
    for name, forget, seed in requests:
        exp = Experiment(forget, base.model, base.tokenizer, data=base.data, num_epochs=8)
        for label, kw in SETTINGS.items():
            row = exp.run(label=label, seed=seed, **kw)
            c = collateral.profile(exp, exp.result(row).model)
            frames.append(c.assign(label=label, request=name, seed=seed))
            keys = ("Q", "U", "QU", "zero_shot_utility", "stopped", "seconds")
            runs.append(dict(label=label, request=name, seed=seed, **{k: row[k] for k in keys}))
            print(runs[-1], flush=True)
            pd.concat(frames).to_csv(out / "verify_concepts.csv", index=False)
            pd.DataFrame(runs).to_csv(out / "verify_runs.csv", index=False)


def analyze(folder: Path) -> None:
    from kt_lib.eval import collateral
    from kt_lib.integrity import codes, score_flags

    concepts = pd.read_csv(folder / "verify_concepts.csv")
    runs = pd.read_csv(folder / "verify_runs.csv")
    runs["flags"] = [codes(score_flags(r)) for r in runs.to_dict("records")]
    print(f"{len(runs)} runs; collapse-flag share per setting:")
    for label, g in runs.groupby("label", sort=False):
        print(f"  {label:22s} {g['flags'].map(lambda f: 'utility_collapse' in f).mean():.2f}")
    agg = collateral.aggregate(concepts, by="label", run=("request", "seed"))
    for dom in ("photo", "drawing"):
        a = agg[agg.domain == dom]
        for col in ("fine_change", "fine_change_ci", "coarse_change"):
            print(f"{dom} {col} (points) by distance:")
            print(
                a.pivot(index="label", columns="distance", values=col).mul(100).round(1).to_string()
            )
    per = collateral.summary(concepts[concepts.domain == "photo"], by=("label", "request", "seed"))
    w = per.pivot_table(
        index=["request", "seed"], columns=["label", "distance"], values="fine_change"
    )
    ga, nhl, kl, a0 = w["ga"], w["nhl"], w["nhl_kl"], w["nhl_kl alpha_fine=0"]
    n = len(w)
    claims = {
        "NHL+KL keeps siblings: sibling change > GA's + 30 points": (kl[1] > ga[1] + 0.3).mean(),
        "NHL+KL keeps siblings: sibling change > NHL's + 10 points": (kl[1] > nhl[1] + 0.1).mean(),
        "GA flattens: siblings, cousins and zero-shot all lose > 30 points": (
            (ga[1] < -0.3) & (ga[2] < -0.3) & (ga[3] < -0.3)
        ).mean(),
        "NHL+KL zero-shot change > -15 points": (kl[3] > -0.15).mean(),
        "dropping alpha_fine costs siblings more than cousins": (
            (kl - a0)[1] > (kl - a0)[2]
        ).mean(),
        "NHL+KL alpha_fine=0: siblings lose more than cousins": (a0[1] < a0[2]).mean(),
    }
    print(f"claims, share of {n} (request, seed) runs where each holds (photo, fine):")
    for k, v in claims.items():
        print(f"  {v:.2f}  {k}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="run the sweep, write CSV files here")
    p.add_argument("--analyze", type=Path, help="print the shares from a folder of CSV files")
    args = p.parse_args()
    if not (args.out or args.analyze):
        p.error("pass --out DIR (sweep) and/or --analyze DIR")
    if args.out:
        sweep(args.out)
    if args.analyze or args.out:
        analyze(args.analyze or args.out)
