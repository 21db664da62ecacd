"""The sweep config: a small YAML file, checked key by key before any model is loaded.

    model: kt-tiny-dogworld          # open_clip name (as `kt unlearn --model`)
    data: {root: null, eval_per_class: 5}
    requests: [[Samoyed, beagle], terrier, {difficulty: [easy, difficult], size: 3}, {random: 2, size: 2}]
    methods: [ga, nhl_kl]            # or a mapping: method -> its own settings
    seeds: [0, 1]
    settings: {num_epochs: 2, samples_per_class: 5}
    grid: {lr: [1.0e-4, 2.0e-4]}     # every combination of these `kt unlearn` settings
    attack: {type: relearn, k: [1], steps: [0, 2, 8], attacks: [forget], probe: true}  # optional

Errors name the key (`settings.lr`, `requests[2]`) and suggest close matches. Float settings are checked
with the trainer's own ranges (`kt_lib.ranges`: `.nan` or a negative margin is a config error); other
values the trainer rejects (a zero batch size) are not config errors: that trial is recorded as failed
and the others run. `attack` (off by default; `attack: relearn` takes `kt unlearn --attack relearn`'s
defaults) adds the relearning attack's summary to every trial's row (`kt_harness.sweep.attack`); `audit`
(off by default, or `kt sweep --audit`) the audits of `kt unlearn --audit` (`kt_harness.sweep.audit`).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field, fields
from pathlib import Path

from kt_harness.sweep.attack import parse_attack
from kt_harness.sweep.audit import parse_audit
from kt_harness.sweep.checks import ConfigError, check_keys, check_type
from kt_lib.methods import GOALS
from kt_lib.ranges import FLOAT_RANGES, check_float
from kt_lib.unlearn import TOWERS, UnlearnConfig

TOP_KEYS = tuple("name model pretrained device data requests methods seeds settings grid".split())
TOP_KEYS += ("resources", "paper", "attack", "audit")
DATA_KEYS = {
    "root": (str, type(None)),
    "taxonomy": str,
    "eval_per_class": (int, type(None)),
    "train_per_class": int,
    "test_per_class": int,
}
RESOURCE_KEYS = {"cpus": int, "gpus": (int, str)}
_NOT_SETTINGS = ("method", "seed", "templates", "progress")
_NUMBER = (int, float)


def _setting_types() -> dict:
    """The `kt unlearn` settings a sweep may fix or vary (UnlearnConfig's fields), with their YAML types."""
    kinds = {"float": _NUMBER, "int": (int,), "str": (str,), "None": (type(None),)}
    out = {}
    for f in fields(UnlearnConfig):
        names = (f.type if isinstance(f.type, str) else f.type.__name__).split("|")
        parts = [kinds.get(n.strip()) for n in names]
        if f.name not in _NOT_SETTINGS and all(parts):  # e.g. "int | None": an integer or null
            kind = tuple(t for part in parts for t in part)
            out[f.name] = kind[0] if len(kind) == 1 else kind
    return {**out, "lr": (*_NUMBER, type(None)), "samples_per_class": int}


SETTING_TYPES = _setting_types()
FLOAT_SETTINGS = {k for k, v in SETTING_TYPES.items() if v == _NUMBER or k == "lr"}
CHOICES = {"goal": GOALS, "towers": TOWERS, "select": ("last", "holdout")}
REQUEST_KEYS = ("name", "forget", "difficulty", "random", "size", "draw")
LEVELS = ("easy", "medium", "difficult")


@dataclass
class SweepConfig:
    name: str = "sweep"
    model: str = "kt-tiny-dogworld"
    pretrained: str | None = None
    device: str = "auto"
    data: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    methods: dict = field(default_factory=dict)  # method -> its own settings
    seeds: list = field(default_factory=lambda: [0])
    settings: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    resources: dict = field(default_factory=lambda: {"cpus": 1, "gpus": "auto"})
    paper: dict | None = None  # method -> the paper's Q-U (%), for the Markdown table
    attack: dict | None = None  # the relearning attack's settings (`parse_attack`); None: off
    # the audits' settings (`kt_harness.sweep.audit.parse_audit`); None: off
    audit: dict | None = None
    source: str = ""  # the file it was read from

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}


def _settings(mapping, where: str) -> dict:
    check_keys(mapping or {}, SETTING_TYPES, where)
    return {k: _setting(k, v, f"{where}.{k}") for k, v in (mapping or {}).items()}


def _setting(key: str, value, where: str):
    """A checked setting; numbers of float settings become floats (so `margin: 2` and `2.0` key alike,
    and `1e-4`, which YAML 1.1 reads as a string, is the number it looks like)."""
    if key in FLOAT_SETTINGS and isinstance(value, str):
        with suppress(ValueError):
            value = float(value)
    value = check_type(value, SETTING_TYPES[key], where)
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{where} must be one of {', '.join(CHOICES[key])}, got {value!r}")
    if key in FLOAT_RANGES and value is not None:  # the trainer's check (.nan, a negative margin)
        try:
            return check_float(key, value)
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
    return float(value) if key in FLOAT_SETTINGS and value is not None else value


def _methods(value) -> dict:
    from kt_lib.methods import get_method

    items = value.items() if isinstance(value, dict) else [(m, {}) for m in value or []]
    out = {}
    for i, (name, own) in enumerate(items):
        where = f"methods.{name}" if isinstance(value, dict) else f"methods[{i}]"
        if not isinstance(name, str):
            raise ConfigError(f"{where} must be a method name, got {name!r}")
        try:
            get_method(name)
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
        out[name] = _settings(own, f"methods.{name}")
    if not out:
        raise ConfigError("methods: name at least one method (see `kt unlearn --list-methods`)")
    return out


def _request(entry, i: int):
    where = f"requests[{i}]"
    if isinstance(entry, str):
        return {"forget": [entry]}
    if isinstance(entry, list):
        if not entry or not all(isinstance(n, str) for n in entry):
            raise ConfigError(f"{where} must be a non-empty list of concept names, got {entry!r}")
        return {"forget": list(entry)}
    check_keys(entry, REQUEST_KEYS, where)
    kinds = [k for k in ("forget", "difficulty", "random") if k in entry]
    if len(kinds) != 1:
        raise ConfigError(f"{where} needs exactly one of forget, difficulty, random; got {kinds}")
    req = dict(entry)
    if "forget" in req:
        names = [req["forget"]] if isinstance(req["forget"], str) else req["forget"]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{where}.forget must be a concept name or a list of them")
        req["forget"] = names
    if "difficulty" in req:
        levels = [req["difficulty"]] if isinstance(req["difficulty"], str) else req["difficulty"]
        for lvl in levels if isinstance(levels, list) else [levels]:
            if lvl not in LEVELS:
                raise ConfigError(f"{where}.difficulty: {lvl!r} is not one of {LEVELS}")
        req["difficulty"] = levels
    if "random" in req and (check_type(req["random"], int, f"{where}.random") < 1):
        raise ConfigError(f"{where}.random must be >= 1 (how many random requests)")
    if "size" in req and check_type(req["size"], int, f"{where}.size") < 1:
        raise ConfigError(f"{where}.size must be >= 1 (concepts per request)")
    draws = req.get("draw", 0)
    for d in draws if isinstance(draws, list) else [draws]:
        check_type(d, int, f"{where}.draw")
    check_type(req.get("name", ""), str, f"{where}.name")
    return req


def parse_config(raw: dict, source: str = "", base: Path | None = None) -> SweepConfig:
    """A checked :class:`SweepConfig` from a parsed YAML mapping; relative data roots resolve against `base`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a sweep config is a YAML mapping of {', '.join(TOP_KEYS)}")
    check_keys(raw, TOP_KEYS, "")
    cfg = SweepConfig(source=source)
    for key in ("name", "model", "device"):
        if key in raw:
            setattr(cfg, key, check_type(raw[key], str, key))
    cfg.pretrained = check_type(raw.get("pretrained"), (str, type(None)), "pretrained")
    data = raw.get("data") or {}
    check_keys(data, DATA_KEYS, "data")
    cfg.data = {k: check_type(v, DATA_KEYS[k], f"data.{k}") for k, v in data.items()}
    if cfg.data.get("root"):
        root = Path(cfg.data["root"]).expanduser()
        cfg.data["root"] = str(root if root.is_absolute() else (base or Path.cwd()) / root)
    if "requests" not in raw or not isinstance(raw["requests"], list) or not raw["requests"]:
        raise ConfigError(
            "requests must be a non-empty list (concept names, groups, difficulty, random)"
        )
    cfg.requests = [_request(e, i) for i, e in enumerate(raw["requests"])]
    cfg.methods = _methods(raw.get("methods"))
    seeds = raw.get("seeds", [0])
    seeds = seeds if isinstance(seeds, list) else [seeds]
    cfg.seeds = [check_type(s, int, f"seeds[{i}]") for i, s in enumerate(seeds)]
    if not cfg.seeds:
        raise ConfigError("seeds must name at least one seed, e.g. seeds: [0]")
    cfg.settings = _settings(raw.get("settings"), "settings")
    grid = raw.get("grid") or {}
    check_keys(grid, SETTING_TYPES, "grid")
    for k, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid.{k} must be a non-empty list of values, got {values!r}")
        cfg.grid[k] = [_setting(k, v, f"grid.{k}[{i}]") for i, v in enumerate(values)]
    res = {**cfg.resources, **(raw.get("resources") or {})}
    check_keys(res, RESOURCE_KEYS, "resources")
    if check_type(res["cpus"], int, "resources.cpus") < 1:
        raise ConfigError("resources.cpus must be >= 1 (CPUs, and torch threads, per trial)")
    if res["gpus"] not in ("auto", 0, 1):
        raise ConfigError(f"resources.gpus must be auto, 0 or 1, got {res['gpus']!r}")
    cfg.resources = res
    cfg.attack = parse_attack(raw.get("attack"))
    cfg.audit = parse_audit(raw.get("audit"))
    if raw.get("paper") is not None:
        from kt_lib.methods import METHODS

        check_keys(raw["paper"], list(METHODS), "paper")
        cfg.paper = {
            k: float(check_type(v, _NUMBER, f"paper.{k}")) for k, v in raw["paper"].items()
        }
    return cfg


def load_config(path: str | Path, data_root: str | None = None) -> SweepConfig:
    """Read and check a sweep YAML file; `data_root` overrides its data.root."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep config {path} does not exist (examples: sweeps/*.yaml)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if data_root is not None:
        raw = dict(raw or {}, data={**((raw or {}).get("data") or {}), "root": data_root})
        return parse_config(raw, str(path), Path.cwd())
    return parse_config(raw, str(path), path.parent.resolve())
