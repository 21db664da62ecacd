"""One trial of a sweep, fully resolved, and its content key.

A :class:`TrialSpec` holds everything that decides a trial's result: the model (and which weights), the data,
the concepts forgotten, the method, the seed and every `kt unlearn` setting with its default filled in. Its
:attr:`~TrialSpec.key` is a hash of exactly that, so the same trial has the same key on any machine and any
backend; the request's label, the device and the thread count are recorded but not hashed. A sweep's
`attack` (the relearning attack's settings) and `audit` are hashed when on, so turning one on runs the trials
again with its columns; without them, the key is what it would be if the options did not exist.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from kt_harness.sweep.config import FLOAT_SETTINGS, SETTING_TYPES, SweepConfig
from kt_lib.presets import layer_settings
from kt_lib.unlearn import UnlearnConfig, default_lr

SCHEMA = 1  # bump when what a row means changes: every key changes with it
UNHASHED = ("request", "device", "threads", "level")  # recorded, not part of the key


def content_key(content: dict) -> str:
    """16 hex digits of the SHA-256 of `content` as sorted JSON: equal content, equal key."""
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TrialSpec:
    model: str
    pretrained: str | None
    data: dict  # root (absolute) or None, eval_per_class; with a root also taxonomy, train/test_per_class
    request: str  # the request's label
    forget: tuple  # the concepts forgotten (compiled: a group is its breeds)
    method: str
    seed: int
    settings: dict = field(default_factory=dict)  # samples_per_class, every UnlearnConfig field
    device: str = "auto"
    threads: int = 1  # torch threads (= CPUs asked for), the same on every backend
    # which weights: the shipped checkpoint's name, a local file's size and mtime, or the tag
    model_id: str = ""
    level: str = ""  # the difficulty level the request was drawn from, if any
    attack: dict | None = None  # the relearning attack to add as columns (SweepConfig.attack)
    audit: dict | None = None  # the audits to add as columns (SweepConfig.audit)

    @property
    def key(self) -> str:
        content = {k: v for k, v in asdict(self).items() if k not in UNHASHED}
        for extra in ("attack", "audit"):  # off: the key is what it was before the option existed
            if content[extra] is None:
                del content[extra]
        return content_key(dict(content, schema=SCHEMA))

    def to_dict(self) -> dict:
        return dict(asdict(self), forget=list(self.forget), key=self.key)

    @classmethod
    def from_dict(cls, d: dict) -> TrialSpec:
        names = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "forget" else v) for k, v in d.items() if k in names})


def model_identity(model: str, pretrained: str | None) -> str:
    """Which weights a (model, pretrained) pair means, cheaply: the shipped world checkpoint's content name,
    a local file's size and modification time, else the open_clip tag itself."""
    from kt_lib.world.model import MODEL_NAME

    if model == MODEL_NAME and pretrained is None:
        from kt_lib.world.config import WorldConfig
        from kt_lib.world.model import checkpoint_name
        from kt_lib.world.pretrain import PretrainConfig

        return checkpoint_name(WorldConfig(), PretrainConfig())
    path = Path(str(pretrained)).expanduser() if pretrained else None
    if path is not None and path.exists():
        st = path.stat()
        return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    return str(pretrained)


def data_spec(cfg: SweepConfig) -> dict:
    """The config's data block with its defaults filled in (what the key sees)."""
    d = cfg.data
    if not d.get("root"):
        return dict(root=None, eval_per_class=d.get("eval_per_class"))
    return dict(
        root=d["root"],
        taxonomy=d.get("taxonomy", "imgnetdogs"),
        eval_per_class=d.get("eval_per_class"),
        train_per_class=d.get("train_per_class", 200),
        test_per_class=d.get("test_per_class", 50),
    )


def shared_fields(cfg: SweepConfig) -> dict:
    """The TrialSpec fields every trial of `cfg` has in common: model, weights, data, device, threads."""
    model_id = model_identity(cfg.model, cfg.pretrained)
    threads = int(cfg.resources["cpus"])
    fields = dict(
        model=cfg.model, pretrained=cfg.pretrained, data=data_spec(cfg), device=cfg.device
    )
    return dict(fields, threads=threads, model_id=model_id)


def base_settings(model: str) -> dict:
    """Every sweepable setting at its `kt unlearn` default (lr by model, 30 exemplars per concept)."""
    defaults = UnlearnConfig()
    out = {k: getattr(defaults, k) for k in SETTING_TYPES if hasattr(defaults, k)}
    out.update(lr=default_lr(model), samples_per_class=30)
    return {k: float(v) if k in FLOAT_SETTINGS else v for k, v in out.items()}


def expand(cfg: SweepConfig, requests: list[tuple]) -> list[TrialSpec]:
    """Every trial of the sweep, in order: request x method x grid point x seed. `requests` are resolved
    (label, forget[, level]) tuples (:func:`kt_harness.sweep.requests.resolve_requests`). Two trials with the same key
    are an error, since the second would silently reuse the first's result."""
    base, fixed = base_settings(cfg.model), shared_fields(cfg)
    names = list(cfg.grid)
    points = list(itertools.product(*(cfg.grid[k] for k in names)))
    specs, seen = [], {}
    for label, forget, *level in requests:
        for method, own in cfg.methods.items():
            for point in points:
                settings = layer_settings(base, cfg.settings, own, dict(zip(names, point)))
                if settings["lr"] is None:
                    settings["lr"] = default_lr(cfg.model)
                for seed in cfg.seeds:
                    spec = TrialSpec(
                        **fixed,
                        request=label,
                        forget=tuple(forget),
                        method=method,
                        seed=int(seed),
                        settings=settings,
                        level=level[0] if level else "",
                        attack=cfg.attack,
                        audit=cfg.audit,
                    )
                    if spec.key in seen:
                        raise ValueError(
                            f"two trials are the same ({method}, seed {seed}, forget {', '.join(forget)}; "
                            f"requests {seen[spec.key]!r} and {label!r}): remove the duplicate from "
                            "requests, seeds or grid"
                        )
                    seen[spec.key] = label
                    specs.append(spec)
    return specs
