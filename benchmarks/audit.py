"""How would an auditor check? Every audit of `kt_lib.eval.audit` on random requests (issue 30).

    .venv/bin/python benchmarks/audit.py [--breeds 6] [--draw-seed 2026] [--seeds 0 1]
        [--methods nhl_kl ga_kl npo_kl ga projection] [--out benchmarks/audit.md]

`--breeds` breeds are drawn at random (seeded by `--draw-seed`, not picked); each is one request, unlearned
by every method at the default budget with each training seed. A breed whose never-learned model is cached
(`kt world --retrain --without NAME`, about 5 minutes each on a 2-core CPU; never pretrained here) gets every
audit (mia, ks, quant, invert); one without gets quant and invert only (they need no reference), and the .md
says which. Breeds with a never-learned model run first; the .md is rewritten after every run, so a run cut
short leaves what it measured, and its scope line says how much of the plan that is.
"""

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from kt_lib.cachefile import write_bytes
from kt_lib.eval import audit
from kt_lib.eval.forget_quality import DEFINITION
from kt_lib.eval.recovery import cached_reference
from kt_lib.experiment import Experiment
from kt_lib.world.config import BREEDS
from kt_lib.world.model import MODEL_NAME, world_model

# the .md's table columns
MIA, KS = "mia_auc mia_privleak mia_diff_ci mia_verdict slug_attacker", "ks_D ks_p ks_n ks_passed"
FORGET, RETURNED = "fp32_forget int8_forget int4_g64_forget", "int8_returned int4_g64_returned"
INVERTED = "fp32_U int8_U int4_g64_U inverted inverted_recovered"
CONTROLS = "mia_auc_log_prob mia_p_log_prob mia_auc_cosine mia_p_cosine"


def fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def table(rows: list[dict], columns: list[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]


def flat(breed: str, method: str, seed: int, row: dict, res: dict) -> dict:
    """One line of the results table: the run's Q and U and each audit's verdict for the unlearned model."""
    out = dict(breed=breed, method=method, seed=seed, Q=row["Q"], U=row["U"])
    if "mia" in res:
        m = {(r["model"], r["feature"]): r for r in res["mia"]["rows"]}
        leak = res["mia"]["leak"]["log_prob"]
        out.update(
            mia_auc=m[("unlearned", "log_prob")]["auc"],
            mia_privleak=m[("unlearned", "log_prob")]["privleak"],
            mia_diff_ci=f"[{leak['ci95'][0]:.3f}, {leak['ci95'][1]:.3f}]",
            mia_verdict=leak["verdict"],
            slug_attacker=m[("unlearned", "log_prob")]["attacker"],
        )
    if "ks" in res:
        ks = res["ks"]
        out.update(ks_D=ks["D"], ks_p=ks["p"], ks_n=ks["n"], ks_passed=ks["passed"])
    q = {(r["model"], r["scheme"]): r for r in res["quant"]["rows"]}
    for scheme in ("fp32", "int8", "int4_g64"):
        out[f"{scheme}_forget"] = q[("unlearned", scheme)]["forget_fine"]
        out[f"{scheme}_returned"] = q[("unlearned", scheme)]["returned"]
        out[f"{scheme}_U"] = q[("unlearned", scheme)]["U"]
    inv = {r["model"]: r for r in res["invert"]["rows"]}
    out.update(
        inverted=inv["unlearned"]["by_token"], inverted_recovered=inv["unlearned"]["recovered"]
    )
    return out


def controls(breed: str, res: dict) -> list[dict]:
    """The original and never-learned models' audit values for one breed (the same for every run)."""
    rows = []
    q = {(r["model"], r["scheme"]): r for r in res["quant"]["rows"]}
    inv = {r["model"]: r for r in res["invert"]["rows"]}
    mia = {(r["model"], r["feature"]): r for r in res.get("mia", {}).get("rows", [])}
    for model in ("original", "never-learned"):
        if (model, "fp32") not in q:
            continue
        row = dict(breed=breed, model=model)
        if mia:
            for f in ("log_prob", "cosine"):
                row[f"mia_auc_{f}"] = mia[(model, f)]["auc"]
                row[f"mia_p_{f}"] = mia[(model, f)]["p"]
        for scheme in ("fp32", "int8", "int4_g64"):
            row[f"{scheme}_forget"] = q[(model, scheme)]["forget_fine"]
            row[f"{scheme}_U"] = q[(model, scheme)]["U"]
        row.update(by_name=inv[model]["by_name"], inverted=inv[model]["by_token"])
        rows.append(row)
    return rows


def write(args, breeds, with_never, results, control_rows, started, plan) -> None:
    command = " ".join(
        ["benchmarks/audit.py", f"--breeds {args.breeds}", f"--draw-seed {args.draw_seed}"]
        + [f"--seeds {' '.join(map(str, args.seeds))}", f"--methods {' '.join(args.methods)}"]
    )
    done = len(results)
    full = [r for r in results if "ks_p" in r]
    lines = [
        "# How would an auditor check? Membership inference, KS forget quality, quantization, concept "
        "inversion",
        "",
        f"Produced by `.venv/bin/python {command}` on {platform.machine()}, 2 torch threads, torch "
        f"{torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')} UTC ({(time.time() - started) / 60:.0f} "
        f"min wall{'; ' + args.note if args.note else ''}): no timings are reported.",
        "",
        f"**Scope.** Breeds drawn at random with seed {args.draw_seed}: {', '.join(breeds)}. "
        f"Never-learned models cached: {', '.join(with_never) or 'none'}"
        + (
            ""
            if len(with_never) == len(breeds)
            else "; the others need `kt world --retrain --without NAME` (about 5 min each on an idle "
            "2-core CPU) and get quant and invert only"
        )
        + f". Runs finished: {done} of the {plan} planned (breeds x methods x seeds); {len(full)} with "
        "every audit. A phenomenon seen on fewer requests than planned is a finding on those requests only.",
        "",
        "**Definitions.** MIA: members = the breed's 200 pretraining photos, non-members = 200 fresh renders "
        "(same generator, seeds no pool uses); score = the breed's log-probability among the 56 breed "
        "prompts (minus the loss against its caption); AUC = P(member scores above non-member); PrivLeak = "
        "(AUC - AUC_never) / AUC_never (unbounded, read beside the AUCs); verdict: the 95% bootstrap "
        "interval (1000 draws) of AUC_unlearned - AUC_never, 'leak' when above 0. SLUG's attacker: logistic "
        "regression on the same feature, mean accuracy over 10 stratified 90/10 splits. "
        f"KS: {DEFINITION['geometric']} (the **geometric** mean over perturbed labels, as TOFU's code; "
        "the paper's arithmetic mean is `mean='arithmetic'`), tau = the model's logit scale, 3 held-out "
        "wordings, 5 perturbed labels = the breed's most confusable breeds under the never-learned model; "
        "on the breed's n = 200 pretraining photos; D = sup |F_unlearned - F_never|, two-sample KS p; "
        "passes at p > 0.05. Quant: symmetric round-to-nearest fake quantization of every weight of >= 2 "
        "dims (list below), int8 per output row, int4 in groups of 64 along the input; Q and U re-measured "
        "through the experiment's Evaluator; returned = forget accuracy after quantizing / the original's. "
        "Invert: one new token embedding learned from k = 5 proxy images in 100 Adam steps (lr 0.01), every "
        "weight frozen; inverted = the breed's zero-shot test accuracy with its prompt written with the "
        "token; recovered = inverted / the original's accuracy by name.",
        "",
        "### Every run (the unlearned model)",
        "",
        *table(results, f"breed method seed Q U {MIA} {KS}".split()),
        "",
        *table(results, f"breed method seed {FORGET} {RETURNED} {INVERTED}".split()),
        "",
        "### The controls: the original and the never-learned model",
        "",
        *table(
            control_rows, f"breed model {CONTROLS} {FORGET} int4_g64_U by_name inverted".split()
        ),
        "",
        f"Weights quantized ({len(args.modules)}): {', '.join(args.modules)}.",
        "",
        *summary(results, control_rows),
    ]
    write_bytes(Path(args.out), ("\n".join(lines) + "\n").encode())


def _range(ctrl: pd.DataFrame, model: str) -> str:
    """'0.501-0.598 over 6 breeds, p < 0.05 for 2 (Gordon setter 0.593, ...)' for one control model."""
    c = ctrl[ctrl.model == model]
    sig = c[c.mia_p_log_prob < 0.05]
    named = ", ".join(f"{r.breed} {r.mia_auc_log_prob:.3f}" for r in sig.itertuples())
    return (
        f"{c.mia_auc_log_prob.min():.3f}-{c.mia_auc_log_prob.max():.3f} over {len(c)} breeds, "
        f"p < 0.05 for {len(sig)}{f' ({named})' if named else ''}"
    )


def summary(results: list[dict], control_rows: list[dict]) -> list[str]:
    """Sentences computed from the tables (no number typed by hand)."""
    if not results:
        return []
    df = pd.DataFrame(results)
    out = ["### Reading", ""]
    if "mia_verdict" in df:
        full = df.dropna(subset=["ks_p"])
        by = full.groupby("method", sort=False)

        def leaks(g) -> str:
            hit = g[g.mia_verdict == "leak"]
            where = f" ({', '.join(sorted(set(hit.breed)))})" if len(hit) else ""
            return f"{len(hit)} of {len(g)}{where}"

        ctrl = pd.DataFrame(control_rows).dropna(subset=["mia_auc_log_prob"])
        out.append(
            "MIA, the controls (log-probability): the original model's AUC is "
            + _range(ctrl, "original")
            + "; the never-learned model's "
            + _range(ctrl, "never-learned")
            + ". MIA 'leak' verdicts (the unlearned model's AUC above the never-learned one's, 95% "
            "bootstrap interval above 0): "
            + "; ".join(f"{m}: {leaks(g)}" for m, g in by)
            + ". KS passes (p > 0.05): "
            + "; ".join(f"{m}: {int(g.ks_passed.sum())} of {len(g)}" for m, g in by)
            + "."
        )
        out.append("")
    q = df.groupby("method")[["int8_returned", "int4_g64_returned", "fp32_returned"]].max()
    out.append(
        "Knowledge returned by quantization (largest over the method's runs, fp32 / int8 / int4): "
        + "; ".join(
            f"{m}: {r.fp32_returned:.2f} / {r.int8_returned:.2f} / {r.int4_g64_returned:.2f}"
            for m, r in q.iterrows()
        )
        + "."
    )
    out.append("")
    inv = df.groupby("method").inverted.agg(["min", "max"])
    nev = [r["inverted"] for r in control_rows if r["model"] == "never-learned"]
    orig = [r["inverted"] for r in control_rows if r["model"] == "original"]
    out.append(
        "Concept inversion (accuracy with the learned token, min-max over runs): "
        + "; ".join(f"{m}: {r['min']:.2f}-{r['max']:.2f}" for m, r in inv.iterrows())
        + f"; the original: {', '.join(f'{v:.2f}' for v in orig)}"
        + (f"; the never-learned model: {', '.join(f'{v:.2f}' for v in nev)}" if nev else "")
        + ". An unlearned model above the never-learned bar still holds what a token can reach."
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--breeds", type=int, default=6)
    ap.add_argument("--draw-seed", type=int, default=2026)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument(
        "--methods", nargs="+", default=["nhl_kl", "ga_kl", "npo_kl", "ga", "projection"]
    )
    ap.add_argument("--out", default="benchmarks/audit.md")
    ap.add_argument("--note", default="", help="the machine's load, how the runs were made")
    args = ap.parse_args()
    torch.set_num_threads(2)
    started = time.time()
    model, tokenizer, _ = world_model(progress=False)
    args.modules = audit.quantized_weights(model)
    rng = np.random.default_rng(args.draw_seed)
    breeds = sorted(rng.choice(list(BREEDS), size=args.breeds, replace=False).tolist())
    with_never = [b for b in breeds if cached_reference(MODEL_NAME, None, None, [b]) is not None]
    order = with_never + [b for b in breeds if b not in with_never]
    plan = len(breeds) * len(args.methods) * len(args.seeds)
    results, control_rows, data = [], [], None
    for breed in order:
        exp = Experiment([breed], model, tokenizer, data=data)
        data = exp.data  # the world's pools and test sets, loaded once
        never = audit.load_never_learned(exp) if breed in with_never else None
        names = "all" if never is not None else "quant,invert"
        for seed in args.seeds:
            for method in args.methods:
                row = exp.run(method, seed=seed, scope="in_domain")
                res = audit.audit(exp, row, never=never, names=names, seed=seed)
                results.append(flat(breed, method, seed, row, res))
                if not any(r["breed"] == breed for r in control_rows):
                    control_rows += controls(breed, res)
                print(results[-1], flush=True)
                write(args, breeds, with_never, results, control_rows, started, plan)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
