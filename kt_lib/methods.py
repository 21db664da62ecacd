"""The registry of unlearning methods: one name -> one small loss function.

A trainer builds a :class:`LossInputs` each step (current logits, labels, cached reference logits) and
calls :func:`compute_loss` with a method name and a :class:`LossConfig`. Methods whose ``kind`` is not
``"loss"`` need extra trainer support: ``"saliency"`` (``salun``: apply :func:`saliency_mask` /
:func:`enforce_mask_`) and ``"task_vector"`` (``task_vector``: fine-tune, then
:func:`negate_task_vector`) and ``"projection"`` (``projection``: no training and no loss; the trainer
applies :func:`kt_lib.projection.project_out`, a closed-form edit of the image projection). The SalUn
and task-vector helpers live in :mod:`kt_lib.saliency` and are re-exported here.

``cfg.goal`` picks the level the forget term of ``ga``, ``ga_kl``, ``nhl`` and ``nhl_kl`` acts on:
``"fine"`` (the breed, the paper's setting), ``"coarse"`` (the group) or ``"hybrid"`` (both, summed).
The other methods are defined for the fine goal only and raise ``ValueError`` for another goal.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from kt_lib import losses as L
from kt_lib.saliency import enforce_mask_, negate_task_vector, saliency_mask

__all__ = [
    "LossInputs",
    "LossConfig",
    "MethodSpec",
    "METHODS",
    "GOALS",
    "compute_loss",
    "loss_terms",
    "get_method",
    "list_methods",
    "saliency_mask",
    "enforce_mask_",
    "negate_task_vector",
]

GOALS = ("fine", "coarse", "hybrid")


@dataclass
class LossInputs:
    """What the trainer hands a method every step (logits are CLIP logits, ``[B, n_classes]``)."""

    fine_logits: Tensor  # current model: forget images vs all fine prompts
    coarse_logits: Tensor  # current model: forget images vs all coarse prompts
    fine_labels: Tensor  # [B] long
    coarse_labels: Tensor  # [B] long
    ref_fine_logits: Tensor | None = None  # original model, same images (cached by the trainer)
    ref_coarse_logits: Tensor | None = None
    other_labels: Tensor | None = None  # relabel/salun: a fixed random other fine label per sample


@dataclass
class LossConfig:
    """Loss hyper-parameters. ``alpha_*`` weight KL terms that use the sum/numel reduction (see
    :func:`kt_lib.losses.kl_div`): they are num_classes-times larger than batchmean weights."""

    margin: float = 2.0
    alpha_coarse: float = 10.0
    alpha_fine: float = 20.0
    beta: float = 0.5
    goal: str = "fine"  # "fine" | "coarse" | "hybrid"

    def __post_init__(self) -> None:
        if self.goal not in GOALS:
            raise ValueError(f"goal must be one of {GOALS}, got {self.goal!r}")
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")


Parts = dict[str, Tensor]
LossFn = Callable[[LossInputs, LossConfig], Parts]


@dataclass(frozen=True)
class MethodSpec:
    """One method. ``fn`` returns named loss terms (already weighted) whose sum is the total loss.
    ``kind``: "loss" (plain loss), "saliency" (SalUn mask), "task_vector" (negate after training) or
    "projection" (closed form, no training)."""

    name: str
    fn: LossFn
    description: str
    needs_reference: bool
    bounded: bool
    kind: str = "loss"
    goals: tuple[str, ...] = ("fine",)


def _need(inputs: LossInputs, field: str, method: str) -> Tensor:
    value = getattr(inputs, field)
    if value is None:
        raise ValueError(
            f"method {method!r} needs inputs.{field} (the original model's logits / "
            f"labels cached by the trainer), but it is None"
        )
    return value


def _levels(cfg: LossConfig) -> tuple[str, ...]:
    return {"fine": ("fine",), "coarse": ("coarse",), "hybrid": ("fine", "coarse")}[cfg.goal]


def _forget(term: Callable[..., Tensor], x: LossInputs, cfg: LossConfig, name: str, **kw) -> Parts:
    """The forget term on the level(s) chosen by cfg.goal; keys ``name`` or ``name_fine``/``name_coarse``."""
    lv = _levels(cfg)
    return {
        f"{name}_{level}" if len(lv) > 1 else name: term(
            getattr(x, f"{level}_logits"), getattr(x, f"{level}_labels"), **kw
        )
        for level in lv
    }


def _kl_terms(x: LossInputs, cfg: LossConfig, method: str) -> Parts:
    """alpha_coarse*KL(coarse) + alpha_fine*KL_nontarget(fine). The coarse term is dropped when the
    coarse level is being forgotten (goal coarse/hybrid): preserving it would fight the forget term."""
    out: Parts = {}
    if cfg.goal == "fine":
        out["kl_coarse"] = cfg.alpha_coarse * L.kl_div(
            x.coarse_logits, _need(x, "ref_coarse_logits", method)
        )
    out["kl_fine"] = cfg.alpha_fine * L.kl_fine_nontarget(
        x.fine_logits, _need(x, "ref_fine_logits", method), x.fine_labels
    )
    return out


def _ga(x: LossInputs, cfg: LossConfig) -> Parts:
    return _forget(L.ga, x, cfg, "ga")


def _gdiff(x: LossInputs, cfg: LossConfig) -> Parts:
    return {
        "ga": L.ga(x.fine_logits, x.fine_labels),
        "ce_coarse": L.ce(x.coarse_logits, x.coarse_labels),
    }


def _ga_kl(x: LossInputs, cfg: LossConfig) -> Parts:
    return {**_forget(L.ga, x, cfg, "ga"), **_kl_terms(x, cfg, "ga_kl")}


def _nhl(x: LossInputs, cfg: LossConfig) -> Parts:
    return _forget(L.nhl, x, cfg, "nhl", margin=cfg.margin)


def _nhl_kl(x: LossInputs, cfg: LossConfig) -> Parts:
    return {**_forget(L.nhl, x, cfg, "nhl", margin=cfg.margin), **_kl_terms(x, cfg, "nhl_kl")}


def _npo_kl(x: LossInputs, cfg: LossConfig) -> Parts:
    ref = _need(x, "ref_fine_logits", "npo_kl")
    return {
        "npo": L.npo(x.fine_logits, ref, x.fine_labels, beta=cfg.beta),
        **_kl_terms(x, cfg, "npo_kl"),
    }


def _me_gd(x: LossInputs, cfg: LossConfig) -> Parts:
    return {
        "entropy": L.entropy_to_uniform(x.fine_logits),
        "ce_coarse": L.ce(x.coarse_logits, x.coarse_labels),
    }


def _relabel(x: LossInputs, cfg: LossConfig) -> Parts:
    return {"ce_other": L.ce(x.fine_logits, _need(x, "other_labels", "relabel/salun"))}


def _task_vector(x: LossInputs, cfg: LossConfig) -> Parts:
    return {"ce_fine": L.ce(x.fine_logits, x.fine_labels)}


def _no_loss(x: LossInputs, cfg: LossConfig) -> Parts:
    raise ValueError(
        "method 'projection' has no loss: it is a closed-form edit of the image projection that "
        "kt_lib.unlearn.unlearn applies without training (kt_lib.projection.project_out)"
    )


_ALL = GOALS
METHODS: dict[str, MethodSpec] = {
    s.name: s
    for s in [
        MethodSpec("ga", _ga, "gradient ascent: -CE on the forget level", False, False, goals=_ALL),
        MethodSpec(
            "gdiff",
            _gdiff,
            "gradient difference: -CE(fine) + CE(coarse) on the same images",
            False,
            False,
        ),
        MethodSpec(
            "ga_kl",
            _ga_kl,
            "-CE + alpha_coarse*KL(coarse) + alpha_fine*KL_nontarget(fine)",
            True,
            False,
            goals=_ALL,
        ),
        MethodSpec(
            "nhl",
            _nhl,
            "negative hinge loss: target pushed margin below the best other class",
            False,
            True,
            goals=_ALL,
        ),
        MethodSpec(
            "nhl_kl",
            _nhl_kl,
            "NHL + alpha_coarse*KL(coarse) + alpha_fine*KL_nontarget(fine) (the paper's)",
            True,
            True,
            goals=_ALL,
        ),
        MethodSpec(
            "npo_kl", _npo_kl, "NPO(beta, ref = original model) + the two KL terms", True, True
        ),
        MethodSpec("me_gd", _me_gd, "maximum entropy on fine + CE(coarse)", False, True),
        MethodSpec("relabel", _relabel, "CE towards a fixed random other fine label", False, True),
        MethodSpec(
            "salun",
            _relabel,
            "relabel loss, updates restricted to salient weights",
            False,
            True,
            kind="saliency",
        ),
        MethodSpec(
            "task_vector",
            _task_vector,
            "fine-tune towards the forget set (+CE), then negate the task vector",
            False,
            True,
            kind="task_vector",
        ),
        MethodSpec(
            "projection",
            _no_loss,
            "training-free: project the forgotten names' text directions out of the image projection",
            False,
            True,
            kind="projection",
        ),
    ]
}


def get_method(method: str) -> MethodSpec:
    """The :class:`MethodSpec` for ``method``; unknown names raise ``ValueError`` with suggestions."""
    if method not in METHODS:
        names = list(METHODS)
        close = difflib.get_close_matches(method, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(f"unknown method {method!r}; {hint}valid methods: {', '.join(names)}")
    return METHODS[method]


def list_methods() -> list[tuple[str, str]]:
    """``(name, description)`` for every registered method, in registry order."""
    return [(s.name, s.description) for s in METHODS.values()]


def loss_terms(method: str, inputs: LossInputs, cfg: LossConfig) -> dict[str, Tensor]:
    """The named (weighted) loss tensors of ``method``; their sum is the loss. No host sync (CUDA-graph safe)."""
    spec = get_method(method)
    if cfg.goal not in spec.goals:
        raise ValueError(f"method {method!r} supports goal {spec.goals}, got {cfg.goal!r}")
    if inputs.fine_logits.shape[0] != inputs.coarse_logits.shape[0]:
        raise ValueError("fine_logits and coarse_logits must have the same batch size")
    return spec.fn(inputs, cfg)


def compute_loss(
    method: str, inputs: LossInputs, cfg: LossConfig
) -> tuple[Tensor, dict[str, float]]:
    """Total loss of ``method`` and its named (weighted) parts as floats; ``parts["loss"]`` is the total."""
    parts = loss_terms(method, inputs, cfg)
    total: Tensor = sum(parts.values())  # type: ignore[assignment]
    values = torch.stack(
        [t.detach().float() for t in [*parts.values(), total]]
    ).tolist()  # one sync
    return total, dict(zip([*parts, "loss"], values))
