"""kt_lib.notebook.audits (notebook 09): which audits can run without a never-learned model and why not
(`plan`), every model's verdict side by side (`verdicts`) and the Explore panel over the results
(`widgets.audit_panel`), on audit dicts shaped as `kt_lib.eval.audit.audit` returns them (no model)."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from kt_lib.notebook import audits, widgets  # noqa: E402

pytestmark = pytest.mark.unit
MODELS = ("original", "unlearned", "never-learned")


def audit_result(
    auc=0.52, verdict="indistinguishable", D=1.0, p=1e-100, int4=0.0, token=1.0
) -> dict:
    """One method's `audit(...)` dict: the unlearned model's values as given, the controls' fixed."""
    aucs = dict(original=0.524, unlearned=auc, **{"never-learned": 0.489})
    mia_rows = [
        dict(model=m, feature=f, auc=aucs[m], p=0.4, attacker=0.5, attacker_std=0.05,
             privleak=(aucs[m] - 0.489) / 0.489)
        for m in MODELS for f in ("log_prob", "cosine")
    ]  # fmt: skip
    forget = dict(original=0.8, unlearned=0.0, **{"never-learned": 0.0})
    quant_rows = [
        dict(model=m, scheme=s, forget_fine=int4 if (m, s) == ("unlearned", "int4_g64") else forget[m],
             retain_fine=0.9, Q=1.0, U=0.95, returned=0.0)
        for m in MODELS for s in ("fp32", "int8", "int4_g64")
    ]  # fmt: skip
    invert_rows = [
        dict(model=m, concept="Samoyed", by_name=forget[m], by_token=token if m == "unlearned" else 0.9,
             recovered=1.0)
        for m in MODELS
    ]  # fmt: skip
    leak = dict(difference=auc - 0.489, ci95=[-0.04, 0.1], verdict=verdict, draws=1000)
    return dict(
        mia=dict(rows=mia_rows, leak=dict(log_prob=leak, cosine=leak), passed=verdict != "leak",
                 original_signal=False, members=200, non_members=200),
        ks=dict(p=p, D=D, n=200, passed=p > 0.05, median_unlearned=2.5, median_never=5.5,
                perturbed={"Samoyed": ["Pomeranian"]}, statistic="log R = ..."),
        quant=dict(rows=quant_rows, modules=["visual.proj"], original_forget_fine=0.8),
        invert=dict(rows=invert_rows, k=5, steps=100),
    )  # fmt: skip


RESULTS = {"nhl_kl": audit_result(), "ga": audit_result(0.56, "leak", 0.5, 0.2, 0.4, 0.7)}
RUNS = {"nhl_kl": dict(Q=1.0, U=0.97), "ga": dict(Q=1.0, U=0.33)}


def test_verdicts_set_every_method_between_the_original_and_the_never_learned_model():
    v = audits.verdicts(RESULTS, RUNS)
    assert list(v.index) == ["original", "nhl_kl", "ga", "never-learned"]
    assert (
        v.loc["ga", "mia_verdict"] == "leak"
        and v.loc["nhl_kl", "mia_verdict"] == "indistinguishable"
    )
    assert v.loc["ga", "mia_auc"] == 0.56 and v.loc["never-learned", "mia_auc"] == 0.489
    assert (
        v.loc["ga", "ks_passed"] and not v.loc["nhl_kl", "ks_passed"] and v.loc["ga", "ks_n"] == 200
    )
    assert pd.isna(
        v.loc["never-learned", "ks_D"]
    )  # the distribution the methods are tested against
    assert v.loc["ga", "int4_forget"] == 0.4 and v.loc["original", "fp32_forget"] == 0.8
    assert v.loc["ga", "by_token"] == 0.7 and v.loc["never-learned", "by_token"] == 0.9
    assert v.loc["nhl_kl", "U"] == 0.97 and pd.isna(v.loc["original", "U"])
    shown = audits.formatted(v)
    assert shown.loc["nhl_kl", "ks_p"] == "1e-100" and shown.loc["nhl_kl", "ks_n"] == "200"
    assert shown.loc["ga", "mia_auc"] == "0.560" and shown.loc["original", "ks_D"] == ""


def test_without_a_never_learned_model_mia_and_ks_are_not_run_and_say_how_to_build_it():
    names, why = audits.plan("all", None, ["Samoyed"])
    assert names == ["quant", "invert"] and list(why) == ["mia", "ks"]
    assert "kt world --retrain --without 'Samoyed'" in why["mia"]
    assert audits.plan("quant,ks", object(), ["Samoyed"]) == (["quant", "ks"], {})
    names, why = audits.plan("all", None, ["Samoyed"], world=False)
    assert names == ["quant", "invert"] and "pretraining images" in why["ks"]
    with pytest.raises(
        ValueError, match="unknown audit 'relearn'; use any of mia, ks, quant, invert"
    ):
        audits.plan("relearn", None, ["Samoyed"])
    only = {m: {k: r[k] for k in ("quant", "invert")} for m, r in RESULTS.items()}
    v = audits.verdicts(only, RUNS, why)
    assert (v.mia == "not run").all() and (v.ks == "not run").all() and "mia_auc" not in v
    assert "never-learned" in v.index  # quant and invert had it as a control
    alone = {  # as audit() returns them with no never-learned model: its rows gone, a hint line added
        m: {
            **{k: dict(r[k], rows=[x for x in r[k]["rows"] if x["model"] != "never-learned"])
               for k in ("quant", "invert")},
            "never_learned": why["mia"],
        }
        for m, r in RESULTS.items()
    }  # fmt: skip
    assert list(audits.verdicts(alone, RUNS, why).index) == ["original", "nhl_kl", "ga"]


def test_audit_panel_shows_the_chosen_audit_of_the_chosen_method():
    panel = widgets.audit_panel(RESULTS)
    assert panel.controls["audit"].options == ("mia", "ks", "quant", "invert")
    assert panel.controls["method"].options == ("nhl_kl", "ga")
    shown = panel.render(audit="quant", method="ga")
    unlearned = shown[(shown.model == "unlearned") & (shown.scheme == "int4_g64")]
    assert unlearned.forget_fine.tolist() == [0.4] and set(shown.model) == set(MODELS)
    assert shown.index.name == "quant · ga"
    ks = panel.render(audit="ks", method="nhl_kl")
    assert len(ks) == 1 and ks.D.iloc[0] == 1.0 and "perturbed" not in ks
    mia = panel.render(audit="mia", method="ga")
    assert mia.set_index(["model", "feature"]).auc[("unlearned", "log_prob")] == 0.56
    assert panel.render(audit="invert", method="nhl_kl").by_token.tolist() == [0.9, 1.0, 0.9]
    panel.controls["method"].value = "ga"  # a moved control redraws, with no error kept
    assert panel.out.outputs and not panel.errors
    with pytest.raises(ValueError, match="at least one audit"):
        widgets.audit_panel({"nhl_kl": {"never_learned": "no never-learned model ..."}})
