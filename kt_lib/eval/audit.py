"""How would an auditor check? One entry point, `audit(exp, unlearned, never, names=...)`, for the audits of
issue 30, each cached by run key (`exp.derive`) and returned as a JSON-able dict:

- `mia`: membership inference with true members (`kt_lib.eval.membership`);
- `ks`: TOFU's KS forget quality against the never-learned model (`kt_lib.eval.forget_quality`);
- `quant`: Q and U after int8 and 4-bit fake quantization, through the experiment's Evaluator
  (`kt_lib.eval.quantize`); knowledge returned = forget accuracy after quantizing / the original's;
- `invert`: concept inversion, a learned token's accuracy on the concept (`kt_lib.eval.inversion`).

The original model (`exp.model`) and the never-learned one are the controls of every audit. mia and ks
need the never-learned model: without one, the error says how to build it (never pretrained here).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from kt_lib.eval.forget_quality import DEFINITION, confusable, ks_verdict, truth_ratio
from kt_lib.eval.inversion import PLACEHOLDER, invert_concept, inverted_accuracy
from kt_lib.eval.membership import leak, member_sets, membership, scores
from kt_lib.eval.quantize import fake_quantize, quantized_weights
from kt_lib.world.data import WorldDataset
from kt_lib.zeroshot import PARAPHRASES, accuracy, encode_images, model_device, predict, text_head

AUDITS = ("mia", "ks", "quant", "invert")
# mia and ks need the never-learned model; quant and invert report it as a control when given
NEEDS_NEVER = ("mia", "ks")
K_RANGE, STEPS_RANGE, GROUP_SIZES = (1, 100), (1, 100), (32, 64, 128)
# `kt world --retrain --without` on a 2-core CPU (kt_lib.eval.recovery.never_learned: about 300 s)
RETRAIN_MINUTES = 5


class NeverLearnedMissing(ValueError):
    """An audit needs the never-learned model and none was given or cached."""


def audit_names(names) -> list[str]:
    """`names` ("all", "mia,ks" or a list) as a list of AUDITS; an unknown name raises, naming the allowed."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(AUDITS) if list(names) == ["all"] else list(dict.fromkeys(names))
    bad = [n for n in names if n not in AUDITS] or ([] if names else [""])
    if bad:
        raise ValueError(f"unknown audit {bad[0]!r}; use any of {', '.join(AUDITS)} or all")
    return names


def check_range(name: str, value: int, bounds) -> None:
    if isinstance(value, bool) or not (isinstance(value, int) and bounds[0] <= value <= bounds[1]):
        raise ValueError(
            f"{name} must be an integer from {bounds[0]} to {bounds[1]}, got {value!r}"
        )


def never_learned_hint(forget) -> str:
    names = " ".join(repr(n) for n in forget)
    return (
        f"no never-learned model for {', '.join(forget)}: `kt world --retrain --without {names}` pretrains "
        f"and caches one (about {RETRAIN_MINUTES} minutes on a 2-core CPU), then audit again"
    )


def load_never_learned(exp):
    """The cached never-learned world model for `exp`'s request (never pretrained here), or raise with how
    to build it."""
    from kt_lib.eval.recovery import never_learned

    model = never_learned(exp.forget, train=False) if exp.data.name == "dogworld" else None
    if model is None:
        raise NeverLearnedMissing(never_learned_hint(exp.forget))
    return model.to(model_device(exp.model)).eval()


def _each(exp, models: dict, name: str, fn, **params) -> dict:
    """`fn(model)` for each model, cached by `exp.derive` on its weights: the original's and the
    never-learned model's parts are computed once however many runs are audited."""
    return {m: exp.derive(model, name, fn, **params) for m, model in models.items()}


def _member_scores(exp, model) -> dict:
    """feature -> {"members", "non_members"}: `scores` lists over the request's breeds, in order."""
    out = {}
    for breed in exp.forget:
        for part, x in zip(("members", "non_members"), member_sets(breed)):
            for f, v in scores(model, exp.tokenizer, x, breed, exp.data.fine_names).items():
                out.setdefault(f, {}).setdefault(part, []).extend(v.tolist())
    return out


def _mia(exp, models: dict, seed: int) -> dict:
    s = _each(exp, models, "audit:member_scores", partial(_member_scores, exp))
    members_n = len(next(iter(s["original"].values()))["members"])
    rows = membership(s, seed=seed)
    leaks = {f: leak(s["unlearned"][f], s["never-learned"][f], seed=seed) for f in s["unlearned"]}
    original = {r["feature"]: r["p"] for r in rows if r["model"] == "original"}
    out = dict(
        members=members_n,
        non_members=members_n,
        rows=rows,
        leak=leaks,
        passed=all(v["verdict"] != "leak" for v in leaks.values()),
        original_signal=any(p < 0.05 for p in original.values()),
        definition="members: the forgotten breeds' pretraining photos; non-members: as many fresh renders "
        "(same generator, unused seeds); AUC = P(member scores above non-member); PrivLeak = (AUC - "
        "AUC_never) / AUC_never; leak: 95% bootstrap interval of AUC_unlearned - AUC_never above 0",
    )
    if not out["original_signal"]:
        out["note"] = (
            "the original model's member signal is not distinguishable from chance (p >= 0.05 on every "
            "feature): this attack cannot show forgetting or its absence here"
        )
    return out


def _ks(exp, unlearned, never, mean: str) -> dict:
    names, a, b, perturbed = exp.data.fine_names, [], [], {}
    for breed in exp.forget:
        images = WorldDataset("pretrain", "photo", breeds=[breed]).images
        perturbed[breed] = confusable(never, exp.tokenizer, images, breed, names)
        for m, out in ((unlearned, a), (never, b)):
            out.append(truth_ratio(m, exp.tokenizer, images, breed, perturbed[breed], mean=mean))
    a, b = np.concatenate(a), np.concatenate(b)
    k = len(next(iter(perturbed.values())))
    return dict(
        ks_verdict(a, b),
        mean=mean,
        perturbed=perturbed,
        images="the forgotten breeds' pretraining photos (TOFU's forget set)",
        statistic=f"{DEFINITION[mean]} ({mean} mean, {len(PARAPHRASES)} wordings, {k} perturbed); "
        "D = sup |F_unlearned - F_never| of the two empirical CDFs; passes at p > 0.05",
    )


def _quantized_scores(exp, schemes: dict, model) -> list[dict]:
    rows = []
    for scheme, spec in schemes.items():
        q = model if spec is None else fake_quantize(model, *spec)
        out = exp.evaluate(q, scope="in_domain")
        row = dict(scheme=scheme, forget_fine=out["after"]["forget_fine"])
        rows.append(dict(row, retain_fine=out["after"]["retain_fine"], Q=out["Q"], U=out["U"]))
    return rows


def _quant(exp, models: dict, group_size: int) -> dict:
    schemes = {"fp32": None, "int8": (8, None), f"int4_g{group_size}": (4, group_size)}
    fn = partial(_quantized_scores, exp, schemes)
    each = _each(exp, models, "audit:quantized", fn, group_size=group_size)
    original = exp.before["forget_fine"]
    rows = [
        dict(model=m, **r, returned=r["forget_fine"] / original if original > 0 else None)
        for m, rs in each.items()
        for r in rs
    ]
    return dict(
        rows=rows,
        modules=quantized_weights(exp.model),
        original_forget_fine=original,
        definition="symmetric round-to-nearest fake quantization of every weight of >= 2 dims: int8 per output "
        f"row (scale max|w|/127), int4 per group of {group_size} inputs (scale max|w|/7, clamp [-8, 7]); "
        "returned = forget_fine after quantizing / the original model's forget_fine",
    )


def _inverted(exp, k: int, steps: int, model) -> list[dict]:
    names, test = exp.data.fine_names, exp.evaluator.domains[exp.evaluator.in_domain]
    images, fine, _ = exp.exemplars(k).tensors
    rows, tpl = [], test.templates
    for breed in exp.forget:
        c = names.index(breed)
        own, mask = images[fine == c], test.fine == c
        target, labels = test.images[mask], test.fine[mask]
        inverted = invert_concept(model, exp.tokenizer, own, breed, names, steps, templates=tpl)
        head = text_head(model, exp.tokenizer, names, tpl)
        by_name = accuracy(predict(encode_images(model, target), head), labels)
        by_token = inverted_accuracy(inverted, exp.tokenizer, target, breed, names, tpl)
        rows.append(dict(concept=breed, by_name=by_name, by_token=by_token))
    return rows


def _invert(exp, models: dict, k: int, steps: int) -> dict:
    each = _each(exp, models, "audit:inverted", partial(_inverted, exp, k, steps), k=k, steps=steps)
    rows = [dict(model=m, **r) for m, rs in each.items() for r in rs]
    original = {r["concept"]: r["by_name"] for r in rows if r["model"] == "original"}
    for r in rows:
        r["recovered"] = r["by_token"] / o if (o := original[r["concept"]]) > 0 else None
    return dict(
        rows=rows,
        k=k,
        steps=steps,
        definition=f"one new token embedding ('{PLACEHOLDER}') learned by Adam (lr 0.01, {steps} steps, every "
        f"weight frozen) from k = {k} proxy images per concept; by_token: zero-shot test accuracy with the "
        "concept's prompt written with the token; recovered = by_token / the original's by_name",
    )


def audit(
    exp,
    unlearned,
    never=None,
    names="all",
    seed: int = 0,
    k: int = 5,
    steps: int = 100,
    group_size: int = 64,
    mean: str = "geometric",
) -> dict:
    """The audits `names` ("all", "mia,ks", a list of AUDITS) of `unlearned` (a model or an `Experiment.run`
    row) on `exp`'s request, against `exp.model` (the original) and `never` (the never-learned model; None:
    the cached one, or an error saying how to build it; False: none): a JSON-able dict, one entry per audit, each cached
    by `exp.derive` (the run's key or the model's weights, the never-learned model's weights, the settings)."""
    from kt_lib.eval.evaluator import model_fingerprint

    names = audit_names(names)
    check_range("k", k, K_RANGE)
    check_range("steps", steps, STEPS_RANGE)
    if group_size not in GROUP_SIZES:
        raise ValueError(
            f"group_size must be one of {', '.join(map(str, GROUP_SIZES))}, got {group_size!r}"
        )
    if mean not in DEFINITION:
        raise ValueError(f"mean must be one of {', '.join(DEFINITION)}, got {mean!r}")
    world = exp.data.name == "dogworld"
    if not world and (need := [n for n in names if n in NEEDS_NEVER]):
        raise ValueError(
            f"{', '.join(need)} need the embedded world's pretraining images: use quant or invert"
        )
    if never is False:  # none, and no cached one loaded
        never = None
        if any(n in NEEDS_NEVER for n in names):
            raise NeverLearnedMissing(never_learned_hint(exp.forget))
    elif never is None and world:
        try:
            never = load_never_learned(exp)
        except NeverLearnedMissing:
            if any(n in NEEDS_NEVER for n in names):
                raise
    ref = None if never is None else model_fingerprint(never)

    def controls(model):
        reference = {"never-learned": never} if never is not None else {}
        return {"original": exp.model, "unlearned": model, **reference}

    compute = dict(
        mia=(lambda m: _mia(exp, controls(m), seed), dict(seed=seed)),
        ks=(lambda m: _ks(exp, m, never, mean), dict(mean=mean)),
        quant=(lambda m: _quant(exp, controls(m), group_size), dict(group_size=group_size)),
        invert=(lambda m: _invert(exp, controls(m), k, steps), dict(k=k, steps=steps)),
    )
    out = {}
    for name in names:
        fn, params = compute[name]
        out[name] = exp.derive(unlearned, f"audit:{name}", fn, never=ref, **params)
    if never is None:
        out["never_learned"] = never_learned_hint(exp.forget)
    return out
