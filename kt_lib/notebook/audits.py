"""An auditor's checklist (notebook 09, `from kt_lib import audits`): the four audits of `kt_lib.eval.audit` by
name. Each audit's module, to run it by hand: `membership` (membership inference with true members),
`forget_quality` (TOFU's KS test), `quantize` (fake quantization), `inversion` (concept inversion); the library
call `audit`; `plan` (the audits that can run here, and why the others cannot) and `verdicts` (every model's
verdict side by side: the original, each method, and the never-learned model, the bar to reach)."""

from __future__ import annotations

import pandas as pd

from kt_lib.eval import forget_quality, inversion, membership, quantize
from kt_lib.eval.audit import AUDITS, NEEDS_NEVER, audit, audit_names, never_learned_hint

__all__ = [
    "AUDITS",
    "audit",
    "formatted",
    "forget_quality",
    "inversion",
    "membership",
    "never_learned_hint",
    "plan",
    "quantize",
    "verdicts",
]
NOT_RUN = "not run"
COLUMNS = (
    "Q U mia_auc mia_p mia_privleak mia_verdict ks_D ks_p ks_n ks_passed fp32_forget int8_forget "
    "int4_forget int8_U int4_U by_name by_token"
).split()
REFERENCE = "never-learned"


def plan(names, never, forget, world: bool = True) -> tuple[list[str], dict[str, str]]:
    """(the audits of `names` that can run, {audit: why not} for the others). mia and ks need the embedded
    world's pretraining images (`world`) and the never-learned model `never` (None: none loaded): without
    it, the reason is `never_learned_hint`, how to build one; nothing is trained here."""
    why = {}
    for name in audit_names(names):
        if name in NEEDS_NEVER and not world:
            why[name] = f"{name} needs the embedded world's pretraining images (true members)"
        elif name in NEEDS_NEVER and never is None:
            why[name] = f"{name}: {never_learned_hint(list(forget))}"
    return [n for n in audit_names(names) if n not in why], why


def _mia(res: dict, model: str) -> dict:
    row = {(r["model"], r["feature"]): r for r in res["rows"]}[(model, "log_prob")]
    out = dict(mia_auc=row["auc"], mia_p=row["p"])
    if model not in ("original", REFERENCE):
        out.update(mia_privleak=row["privleak"], mia_verdict=res["leak"]["log_prob"]["verdict"])
    return out


def _ks(res: dict, model: str) -> dict:
    if model in ("original", REFERENCE):
        return {}
    return dict(ks_D=res["D"], ks_p=res["p"], ks_n=res["n"], ks_passed=res["passed"])


def _quant(res: dict, model: str) -> dict:
    out = {}
    for r in (r for r in res["rows"] if r["model"] == model):
        scheme = "int4" if r["scheme"].startswith("int4") else r["scheme"]
        out[f"{scheme}_forget"] = r["forget_fine"]
        if scheme != "fp32":
            out[f"{scheme}_U"] = r["U"]
    return out


def _invert(res: dict, model: str) -> dict:
    rows = [r for r in res["rows"] if r["model"] == model]
    mean = lambda key: sum(r[key] for r in rows) / len(rows)  # noqa: E731 (over the request's concepts)
    return dict(by_name=mean("by_name"), by_token=mean("by_token"))


def verdicts(results: dict, runs: dict | None = None, skipped: dict | None = None) -> pd.DataFrame:
    """One row per model: the original, each method of `results` (method -> `audit`'s dict) and the
    never-learned model when the audits had one; columns: Q and U (`runs`: method -> run row), and per audit
    mia_auc, mia_p (log-probability feature), mia_privleak and mia_verdict (methods); ks_D, ks_p, ks_n,
    ks_passed (methods: the never-learned model is the distribution they are tested against); fp32_forget,
    int8_forget, int4_forget and their U; by_name, by_token (concept inversion, mean over the concepts).
    An audit in `skipped` (`plan`'s reasons) is one column reading "not run"."""
    if not results:
        raise ValueError("verdicts needs the audits of at least one method")
    first = next(iter(results.values()))
    models = ["original", *results]
    audited = [first[name] for name in AUDITS if name in first]  # not "never_learned": a hint line
    if any(REFERENCE in {r["model"] for r in res.get("rows", [])} for res in audited):
        models.append(REFERENCE)
    parts = dict(mia=_mia, ks=_ks, quant=_quant, invert=_invert)
    rows = []
    for model in models:
        res = results.get(
            model, first
        )  # the controls' values are the same in every method's audits
        row = {k: (runs or {}).get(model, {}).get(k) for k in ("Q", "U")}
        for name, part in parts.items():
            if name in res:
                row.update(
                    part(res[name], model if model in ("original", REFERENCE) else "unlearned")
                )
        row.update({name: NOT_RUN for name in skipped or {}})
        rows.append(dict(model=model, **row))
    table = pd.DataFrame(rows).set_index("model").dropna(axis=1, how="all")
    return table[[c for c in COLUMNS if c in table] + [c for c in table if c not in COLUMNS]]


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """`verdicts`' table to read: p-values to two significant digits, counts whole, other numbers to three
    decimals, a value that does not apply (the controls' KS, PrivLeak and verdict) blank."""

    def cell(column: str, x) -> str:
        if x is None or (isinstance(x, float) and pd.isna(x)):
            return ""
        if isinstance(x, (bool, str)):
            return str(x)
        if column.endswith("_n"):
            return str(int(x))
        return (
            f"{x:.2g}" if column.endswith("_p") else f"{x:.3f}" if isinstance(x, float) else str(x)
        )

    return pd.DataFrame({c: [cell(c, x) for x in table[c]] for c in table}, index=table.index)
