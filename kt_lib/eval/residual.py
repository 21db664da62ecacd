"""The residual-knowledge table of a run: what is left of the forgotten concepts beyond zero-shot accuracy.

For the original model, the unlearned one and (when given) the never-learned reference: zero-shot forget
accuracy with the training prompts, the linear probe on frozen image features and the mean accuracy over
unseen paraphrases (`kt_lib.eval.probe`), and the relearning attack's curves with one number each
(`kt_lib.eval.recovery`: steps back to half the original accuracy, residual area against the never-learned
model). `residual_knowledge` returns frames; `to_json` makes them the `relearning` entry of
`kt unlearn --attack relearn --json`.
"""

from __future__ import annotations

import math

import pandas as pd
import torch

from kt_lib.eval import recovery
from kt_lib.eval.probe import paraphrase_accuracy, probe_accuracy

__all__ = ["residual_knowledge", "probe_rows", "to_json"]


def probe_rows(exp, models: dict, domain: str = "photo") -> pd.DataFrame:
    """Tidy rows (model, measure, value): zero-shot, linear-probe and mean-paraphrase forget accuracy."""
    test = exp.evaluator.domains[domain]
    images, fine, _ = exp.data.proxy_pool.tensors
    n = len(exp.data.fine_names)
    rows = []
    for name, model in models.items():
        model.eval()
        zs = exp.evaluator.accuracies(model, exp.tokenizer, exp.forget)
        probe = probe_accuracy(model, (images, fine), (test.images, test.fine), n, exp.forget_ids)
        para = paraphrase_accuracy(
            model, exp.tokenizer, test.images, test.fine, exp.data.fine_names, exp.forget_ids
        )
        rows += [
            dict(model=name, measure="zero-shot forget", value=zs["forget_fine"]),
            dict(model=name, measure="linear probe forget", value=probe["forget"]),
            dict(
                model=name,
                measure="paraphrase forget (mean)",
                value=sum(p["forget"] for p in para.values()) / len(para),
            ),
        ]
    return pd.DataFrame(rows)


def residual_knowledge(
    exp,
    unlearned,
    reference=None,
    label: str = "unlearned",
    ks=recovery.KS,
    attacks=recovery.ATTACKS,
    steps=recovery.STEPS,
    seed: int = 0,
) -> dict:
    """{"curves", "summary", "table"} frames for `exp`'s original model, `unlearned` (named `label`) and the
    never-learned `reference` (a model pretrained without the concepts; None: no residual numbers).
    `table` is tidy: one row per (model, measure[, attack, k]) with a value."""
    models = {"original": exp.model, label: unlearned}
    if reference is not None:
        models[recovery.REFERENCE] = reference
    torch.manual_seed(seed)
    curves = recovery.curves(exp, models, ks=ks, attacks=attacks, steps=steps, seed=seed)
    original = curves[(curves.model == "original") & (curves.step == 0)].forget_fine.iloc[0]
    summary = recovery.summarize(curves, original)
    long = summary.melt(
        id_vars=["model", "attack", "k"],
        value_vars=["steps_to_half", "residual"],
        var_name="measure",
    )
    table = pd.concat([probe_rows(exp, models), long], ignore_index=True)
    table["k"] = table["k"].astype("Int64")  # <NA> for the probes, which take no k
    return dict(curves=curves, summary=summary, table=table)


def _clean(value):
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def to_json(result: dict) -> dict:
    """The frames as JSON-ready lists of records (NaN and <NA> as null)."""
    return {
        name: [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]
        for name, frame in result.items()
    }
