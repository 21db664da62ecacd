"""A sweep's relearning attack (off by default): the `attack` key of a sweep config, and its columns in
every trial's row.

    attack: relearn                   # `kt unlearn --attack relearn`'s defaults: k 1 5 10, steps 0..32, 3 attacks
    attack: {k: [1], steps: [0, 2, 8], attacks: [forget], probe: true}

After a trial unlearns, :func:`attack_columns` runs `kt unlearn --attack relearn`'s code (`kt_lib.eval.residual`)
and returns the summary as columns: `relearn_<attack>_k<k>_steps_to_half` (empty: not back to half the
original accuracy within the measured steps), `..._end` and `..._end_U` (after the last step), `..._residual`
(where `kt world --retrain --without` cached a never-learned model), and with `probe: true`, `probe_forget`
and `paraphrase_forget`. The attack's settings are part of the trial's key.
"""

from __future__ import annotations

from kt_harness.sweep.checks import ConfigError, check_keys, check_type

ATTACK_KEYS = ("type", "k", "steps", "attacks", "probe")


def parse_attack(value) -> dict | None:
    """The checked `attack` entry with its defaults filled in; null or false: None (no attack)."""
    from kt_lib.eval.recovery import ATTACKS, KS, STEPS

    if value is None or value is False:
        return None
    raw = {"type": value} if isinstance(value, str) else value
    check_keys(raw, ATTACK_KEYS, "attack")
    if raw.get("type", "relearn") != "relearn":
        raise ConfigError(f"attack.type must be relearn, got {raw['type']!r}")
    out = dict(type="relearn")
    for key, default in (("k", KS), ("steps", STEPS), ("attacks", ATTACKS)):
        values = raw.get(key, list(default))
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ConfigError(f"attack.{key} must name at least one value, e.g. {default[0]!r}")
        for i, v in enumerate(values):
            where, low = f"attack.{key}[{i}]", int(key == "k")
            if key == "attacks" and v not in ATTACKS:
                raise ConfigError(f"{where} must be one of {', '.join(ATTACKS)}, got {v!r}")
            if key != "attacks" and check_type(v, int, where) < low:
                raise ConfigError(f"{where} must be >= {low}, got {v}")
        out[key] = list(dict.fromkeys(values)) if key == "attacks" else sorted(set(values))
    out["probe"] = check_type(raw.get("probe", False), bool, "attack.probe")
    return out


def describe_attack(attack: dict) -> str:
    """The attack's settings in one cell: 'relearn k=1,5 steps=0,2,8 attacks=forget probe'."""
    join = lambda values: ",".join(map(str, values))  # noqa: E731
    words = [attack["type"], f"k={join(attack['k'])}", f"steps={join(attack['steps'])}"]
    words.append(f"attacks={join(attack['attacks'])}")
    return " ".join(words + (["probe"] if attack["probe"] else []))


def attack_columns(spec, exp, unlearned) -> dict:
    """The attack of `spec.attack` on a trial's unlearned model, as the row's columns (see above), and
    `relearn_reference`: the never-learned model's path, or None."""
    from kt_lib.eval.residual import cached_reference, columns, residual_knowledge
    from kt_lib.models import load_model

    a = spec.attack
    path = cached_reference(spec.model, spec.pretrained, spec.data.get("root"), exp.forget)
    reference = None
    if path is not None:
        reference = load_model(spec.model, str(path), device=spec.device, progress=False)[0]
    res = residual_knowledge(
        exp,
        unlearned,
        reference,
        label=spec.method,
        ks=tuple(a["k"]),
        attacks=tuple(a["attacks"]),
        steps=tuple(a["steps"]),
        probes=a["probe"],
    )
    return dict(columns(res, spec.method), relearn_reference=None if path is None else str(path))
