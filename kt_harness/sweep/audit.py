"""A sweep's audits (off by default): `kt sweep CONFIG --audit NAMES` or the config's `audit` key, and their
columns in every trial's row: `kt unlearn --audit`'s code (`kt_lib.eval.audit.audit`, each audit cached by
run key) as flat columns.

    audit: quant,invert                          # or all; `kt unlearn --audit`'s k 5 and steps 100
    audit: {names: [quant, invert], k: 5, steps: 100}

Columns (the unlearned model's, unless named; `audit.never_learned` says when no never-learned control was
cached):

- `audit.mia.<feature>.auc_original`, `.auc_unlearned`, `.auc_never`, `.privleak`, `.verdict`, and
  `audit.mia.passed` (feature: log_prob, cosine);
- `audit.ks.p`, `audit.ks.D`, `audit.ks.n`, `audit.ks.passed`;
- `audit.quant.<scheme>.forget_fine`, `.Q`, `.U`, `.returned` (scheme: int8, int4_g64);
- `audit.invert.unlearned`, `.original`, `.never_learned` (a learned token's accuracy, mean over the
  concepts) and `audit.invert.recovered` (the unlearned model's, relative to the original's by name).

mia and ks need the never-learned model of each request: a sweep stops before training when one is missing
(`check_never_learned`), saying how to build it. The audit's settings are part of the trial's key.
"""

from __future__ import annotations

from kt_harness.sweep.checks import ConfigError, check_keys

AUDIT_KEYS = ("names", "k", "steps")


def parse_audit(value) -> dict | None:
    """The checked `audit` entry ({names, k, steps}, defaults filled in); null or false: None (no audit)."""
    from kt_lib.eval import audit

    if value is None or value is False:
        return None
    raw = {"names": value} if isinstance(value, (str, list)) else value
    check_keys(raw, AUDIT_KEYS, "audit")
    try:
        names = audit.audit_names(raw.get("names", "all"))
    except ValueError as err:
        raise ConfigError(f"audit.names: {err}") from None
    out = dict(names=names, k=raw.get("k", 5), steps=raw.get("steps", 100))
    for key, bounds in (("k", audit.K_RANGE), ("steps", audit.STEPS_RANGE)):
        try:
            audit.check_range(f"audit.{key}", out[key], bounds)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    return out


def describe_audit(a: dict) -> str:
    """The audit's settings in one cell: 'quant,invert k=5 steps=100'."""
    return f"{','.join(a['names'])} k={a['k']} steps={a['steps']}"


def check_never_learned(specs) -> None:
    """Raise (one line: how to build it) when a trial's audit needs a never-learned model (mia, ks) that is
    not cached, or real photos, before anything is trained."""
    from kt_lib.eval import audit
    from kt_lib.eval.recovery import cached_reference

    for spec in specs:
        need = [n for n in (spec.audit or {}).get("names", []) if n in audit.NEEDS_NEVER]
        if not need:
            continue
        others = [n for n in spec.audit["names"] if n not in need] or ["quant", "invert"]
        if spec.data.get("root"):
            raise ValueError(
                f"--audit {','.join(need)} needs the embedded world's pretraining images and never-learned "
                f"model: on real photos use --audit {','.join(others)}"
            )
        if cached_reference(spec.model, spec.pretrained, None, spec.forget) is None:
            raise audit.NeverLearnedMissing(
                f"--audit {','.join(need)}: {audit.never_learned_hint(spec.forget)} (or --audit "
                f"{','.join(others)}, which need none)"
            )


def audit_columns(spec, exp, row: dict) -> dict:
    """The audits of `spec.audit` on a trial's run `row`, as flat columns (see above)."""
    from kt_lib.eval.audit import audit

    a = spec.audit
    res = audit(exp, row, names=a["names"], seed=spec.seed, k=a["k"], steps=a["steps"])
    out = {}
    if "mia" in res:
        m = res["mia"]
        auc = {(r["model"], r["feature"]): r for r in m["rows"]}
        for f, leak in m["leak"].items():
            p = f"audit.mia.{f}"
            out[f"{p}.auc_original"] = auc[("original", f)]["auc"]
            out[f"{p}.auc_unlearned"] = auc[("unlearned", f)]["auc"]
            out[f"{p}.auc_never"] = auc[("never-learned", f)]["auc"]
            out[f"{p}.privleak"] = auc[("unlearned", f)]["privleak"]
            out[f"{p}.verdict"] = leak["verdict"]
        out["audit.mia.passed"] = m["passed"]
    if "ks" in res:
        out.update({f"audit.ks.{k}": res["ks"][k] for k in ("p", "D", "n", "passed")})
    if "quant" in res:
        for r in res["quant"]["rows"]:
            if r["model"] == "unlearned" and r["scheme"] != "fp32":
                for k in ("forget_fine", "Q", "U", "returned"):
                    out[f"audit.quant.{r['scheme']}.{k}"] = r[k]
    if "invert" in res:
        rows = res["invert"]["rows"]
        for model in ("unlearned", "original", "never-learned"):
            vals = [r["by_token"] for r in rows if r["model"] == model]
            if vals:
                out[f"audit.invert.{model.replace('-', '_')}"] = sum(vals) / len(vals)
        rec = [r["recovered"] for r in rows if r["model"] == "unlearned"]
        out["audit.invert.recovered"] = None if None in rec else sum(rec) / len(rec)
    if "never_learned" in res:
        out["audit.never_learned"] = res["never_learned"]
    return out
