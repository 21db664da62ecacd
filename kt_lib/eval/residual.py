"""The residual-knowledge table of a run: the probes and relearning curves of the original, unlearned and
never-learned models (`to_json`: `kt unlearn --attack relearn --json`; `columns`: a sweep's columns)."""

from __future__ import annotations

import pandas as pd
import torch

from kt_lib.eval import recovery
from kt_lib.eval.probe import measures
from kt_lib.eval.recovery import cached_reference

__all__ = ["cached_reference", "columns", "probe_rows", "residual_knowledge", "to_json"]


def probe_rows(exp, models: dict, domain: str = "photo") -> pd.DataFrame:
    """Tidy rows (model, measure, value): zero-shot, linear-probe and mean-paraphrase forget accuracy."""
    rows = []
    for name, model in models.items():
        model.eval()
        zs, probe, *para = (r["forget"] for r in measures(exp, model, domain))
        values = (zs, probe, sum(para) / len(para))
        rows += [dict(model=name, measure=m, value=v) for m, v in zip(MEASURES, values)]
    return pd.DataFrame(rows)


MEASURES = ("zero-shot forget", "linear probe forget", "paraphrase forget (mean)")


def residual_knowledge(
    exp,
    unlearned,
    reference=None,
    label: str = "unlearned",
    ks=recovery.KS,
    attacks=recovery.ATTACKS,
    steps=recovery.STEPS,
    seed: int = 0,
    probes: bool = True,
) -> dict:
    """{"curves", "summary", "table"} for the original model, `unlearned` (`label`) and the never-learned
    `reference` (None: no residuals); `table`: one row per (model, measure[, attack, k])."""
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
    table = pd.concat([probe_rows(exp, models), long] if probes else [long], ignore_index=True)
    table["k"] = table["k"].astype("Int64")  # <NA> for the probes, which take no k
    return dict(curves=curves, summary=summary, table=table)


PROBE_COLUMNS = dict(zip(MEASURES[1:], ("probe_forget", "paraphrase_forget")))


def columns(result: dict, label: str) -> dict:
    """The `label` model's numbers as one flat dict: `relearn_<attack>_k<k>_{steps_to_half,end,end_U,residual}`
    and `probe_forget`, `paraphrase_forget`."""
    out = {}
    summary = _records(result["summary"])
    reference = any(r["model"] == recovery.REFERENCE for r in summary)
    for r in (r for r in summary if r["model"] == label):
        name = f"relearn_{r['attack']}_k{r['k']}"
        out.update({f"{name}_{m}": r[m] for m in ("steps_to_half", "end", "end_U")})
        if reference:
            out[f"{name}_residual"] = r["residual"]
    for r in _records(result["table"]):
        if r["model"] == label and r["measure"] in PROBE_COLUMNS:
            out[PROBE_COLUMNS[r["measure"]]] = r["value"]
    return out


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def to_json(result: dict) -> dict:
    """The frames as JSON-ready lists of records (NaN and <NA> as null)."""
    return {name: _records(frame) for name, frame in result.items()}
