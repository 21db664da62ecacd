"""Collateral damage: how an unlearning run changed every concept, by taxonomy distance to the forgotten set
(0 forgotten, 1 siblings, 2 cousins, ...; zero-shot families one past the deepest leaf)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kt_lib.knowledge.taxonomy import Taxonomy
from kt_lib.stats import mean_ci
from kt_lib.zeroshot import accuracy

NAMES = {0: "forgotten", 1: "siblings", 2: "cousins", 3: "second cousins"}
ZERO_SHOT = "zero-shot families"


def relation(distance: int) -> str:
    """A readable name for a distance: forgotten, siblings, cousins, second cousins, ... ."""
    return NAMES.get(int(distance), f"distance {int(distance)}")


def distances(taxonomy: Taxonomy, forget) -> dict[str, int]:
    """Every leaf's distance to the forgotten set: steps up from the nearest forgotten leaf to their lowest
    common ancestor."""
    forget = [taxonomy.lookup(f) for f in ([forget] if isinstance(forget, str) else forget)]
    if not forget:
        raise ValueError("distances need at least one forgotten concept")
    gone = [leaf for f in forget for leaf in taxonomy.leaves(f.id)]
    paths = [[a.id for a in taxonomy.path_to_root(g.id)] for g in gone]
    out = {}
    for leaf in taxonomy.leaves():
        mine = {a.id for a in taxonomy.path_to_root(leaf.id)}
        out[leaf.name] = min(next(k for k, a in enumerate(p) if a in mine) for p in paths)
    return out


def family_accuracies(evaluator, model, tokenizer) -> pd.DataFrame:
    """One row per class of each zero-shot family: its accuracy within its family (cached predictions)."""
    preds, rows = evaluator.predictions(model, tokenizer), []
    for name, fs in evaluator.families.items():
        p = preds["family:" + name]
        for c, cls in enumerate(fs.classes):
            if (sel := fs.labels == c).any():
                fine = accuracy(p[sel], fs.labels[sel])
                rows.append(dict(concept=cls, group=name, fine=fine, n=int(sel.sum())))
    return pd.DataFrame(rows, columns=["concept", "group", "fine", "n"])


def changes(
    before, after, taxonomy, forget, families_before=None, families_after=None, in_domain="photo"
) -> pd.DataFrame:
    """Per (domain, concept) of `Evaluator.per_class` frames (and :func:`family_accuracies`): distance,
    relation and fine and coarse accuracy before, after and change."""
    dist = distances(taxonomy, forget)
    key = ["domain", "concept", "group"]
    m = before[key + ["fine", "coarse", "n"]].merge(
        after[key + ["fine", "coarse"]], on=key, suffixes=("_before", "_after")
    )
    unknown = sorted((set(before.concept) | set(after.concept)) - set(dist))
    if unknown:
        raise KeyError(
            f"concepts {unknown[:5]} are not leaves of taxonomy {taxonomy.name!r}; build the evaluator "
            "from the same taxonomy"
        )
    m["distance"] = m.concept.map(dist).astype(int)
    m["relation"] = m.distance.map(relation)
    if families_before is not None and len(families_before):
        after_f = families_after[["concept", "group", "fine"]]
        f = families_before.merge(after_f, on=["concept", "group"], suffixes=("_before", "_after"))
        f["domain"], f["coarse_before"], f["coarse_after"] = in_domain, np.nan, np.nan
        f["distance"], f["relation"] = max(dist.values()) + 1, ZERO_SHOT
        m = pd.concat([m, f[m.columns]], ignore_index=True)
    for level in ("fine", "coarse"):
        m[f"{level}_change"] = m[f"{level}_after"] - m[f"{level}_before"]
    m["in_domain"] = m.domain == in_domain
    cols = ["domain", "in_domain", "distance", "relation", "concept", "group", "n"]
    return m[cols + [c for c in m.columns if c not in cols]]


def profile(exp, unlearned) -> pd.DataFrame:
    """The collateral-damage profile of `unlearned` (a model or run row), cached through `exp.derive`."""
    ev, tok = exp.evaluator, exp.tokenizer

    def compute(model):
        fams = [family_accuracies(ev, m, tok) for m in (exp.model, model)]
        before, after = (ev.per_class(m, tok) for m in (exp.model, model))
        return changes(before, after, exp.data.taxonomy, exp.forget, *fams, ev.in_domain)

    return exp.derive(unlearned, "collateral_profile", compute)


def summary(concepts: pd.DataFrame, by=()) -> pd.DataFrame:
    """Per (`by`..., domain, distance): how many concepts, which, and their mean fine and coarse change."""
    keys = [*by, "domain", "distance", "relation"]
    return (
        concepts.groupby(keys, sort=True)
        .agg(
            n_concepts=("concept", "nunique"),
            concepts=("concept", lambda s: sorted(set(s))),
            fine_change=("fine_change", "mean"),
            coarse_change=("coarse_change", "mean"),
        )
        .reset_index()
    )


def to_json(concepts: pd.DataFrame) -> list[dict]:
    """The summary as JSON-able records (NaN -> None), for `kt unlearn --json`."""
    s = summary(concepts)
    return s.astype(object).where(s.notna(), None).to_dict("records")


def aggregate(
    concepts: pd.DataFrame, by="label", run=("seed",), confidence: float = 0.95
) -> pd.DataFrame:
    """Stacked profiles of runs (`run` columns) -> per (`by`, domain, distance) the mean changes, their
    t-interval half-widths `*_ci` and `n` runs."""
    by = [by] if isinstance(by, str) else list(by)
    keys = [*by, "domain", "distance", "relation"]
    rows = []
    for values, g in summary(concepts, by=[*by, *run]).groupby(keys, sort=True):
        row = dict(zip(keys, values))
        for m in ("fine_change", "coarse_change"):
            mean, half, _ = mean_ci(g[m], confidence)
            row.update({m: mean, f"{m}_ci": half})
        rows.append(dict(row, n=len(g)))
    return pd.DataFrame(rows)


def random_requests(fine_names, count: int, size: int = 4, seed: int = 0) -> list[list[str]]:
    """`count` requests of `size` concepts drawn uniformly (seeded) from `fine_names`."""
    rng = np.random.default_rng(seed)
    picks = [rng.choice(len(fine_names), size, replace=False) for _ in range(count)]
    return [[fine_names[i] for i in p] for p in picks]
