"""What a method is: a :class:`Method` has a loss, the settings it reads, and optional hooks around the loop.

The loop (:func:`kt_lib.unlearn.unlearn`) hands a method a :class:`Run` and calls ``prepare(run)`` once
before the first step (cache the original model's logits, a SalUn mask; a closed-form method edits
``run.model`` and sets ``run.epochs = 0``), ``loss(inputs, cfg)`` every step through :func:`compute_loss`
(named, weighted terms summed), ``after_step(run)`` after every optimiser step and ``finish(run)`` at the end.

A new method is one file: a :class:`Method` subclass decorated with :func:`register`. ``cfg.goal`` picks the
level a forget term acts on: ``"fine"`` (the breed, the paper's), ``"coarse"`` (the group) or ``"hybrid"``
(both, summed); a method lists the goals it supports.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import torch
from torch import Tensor

from kt_lib import losses as L
from kt_lib.prompts import ensemble_reference, reference_logits

GOALS = ("fine", "coarse", "hybrid")
Parts = dict[str, Tensor]


@dataclass
class LossInputs:
    """What the loop hands a method's loss every step (logits are CLIP logits, ``[B, n_classes]``)."""

    fine_logits: Tensor  # current model: forget images vs all fine prompts
    coarse_logits: Tensor  # current model: forget images vs all coarse prompts
    fine_labels: Tensor  # [B] long
    coarse_labels: Tensor  # [B] long
    ref_fine_logits: Tensor | None = None  # original model, same images (cached by `prepare`)
    ref_coarse_logits: Tensor | None = None
    other_labels: Tensor | None = None  # relabel/salun: a fixed random other fine label per sample


@dataclass
class LossConfig:
    """Loss hyper-parameters. ``alpha_*`` weight KL terms reduced by sum/numel (:func:`kt_lib.losses.kl_div`)."""

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


@dataclass
class Run:
    """One run as the hooks see it: ``model`` is the copy that learns, ``original`` the caller's model
    (never modified); the forget set is on the model's device."""

    model: torch.nn.Module
    original: torch.nn.Module
    tokenizer: object
    images: Tensor
    fine_labels: Tensor
    coarse_labels: Tensor
    fine_names: list[str]
    coarse_names: list[str]
    bank: object  # kt_lib.prompts.PromptBank: the run's prompts, tokenised once
    cfg: object  # kt_lib.unlearn.UnlearnConfig
    epochs: int  # the budget; a closed-form method sets 0
    reference: tuple = (None, None)  # the original model's (fine, coarse) logits [templates, N, C]
    info: dict = field(default_factory=dict)  # goes into the result's info


class Method:
    """One unlearning method: subclasses set ``name`` and ``description`` and override ``loss`` and/or hooks.
    ``bounded``: whether the forget term is bounded (GA's is not). ``goals``: the levels it supports.
    ``settings``: the config fields it reads beyond the shared ones. ``compact_vocabulary``: the loop may
    train only the token rows the prompts use; a method needing full shapes (SalUn's mask) sets False.
    """

    name = ""
    description = ""
    bounded = True
    goals: tuple[str, ...] = ("fine",)
    settings: tuple[str, ...] = ()
    compact_vocabulary = True

    def loss(self, x: LossInputs, cfg: LossConfig) -> Parts:
        raise NotImplementedError(f"method {self.name!r} has no loss")

    def prepare(self, run: Run) -> None:
        """Before the first step."""

    def after_step(self, run: Run) -> None:
        """After every optimiser step."""

    def finish(self, run: Run) -> None:
        """After the last step."""

    def __repr__(self) -> str:
        return f"<method {self.name}: {self.description}>"


class WithReference(Method):
    """A method whose loss compares with the original model: ``prepare`` caches its logits on the forget set
    (per template; ``cfg.reference="ensemble"``: one averaged head, as the official trainer does)."""

    def prepare(self, run: Run) -> None:
        ref = ensemble_reference if run.cfg.reference == "ensemble" else reference_logits
        run.reference = ref(run.original.eval(), run.images, run.bank)


METHODS: dict[str, Method] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: register ``cls`` under ``cls.name`` (once)."""
    if not cls.name or cls.name in METHODS and type(METHODS[cls.name]) is not cls:
        raise ValueError(f"method name {cls.name!r} is empty or already registered")
    METHODS[cls.name] = cls()
    return cls


def get_method(method: str | Method) -> Method:
    """The registered :class:`Method` called ``method`` (unknown names raise with suggestions)."""
    if isinstance(method, Method):
        return method
    if method not in METHODS:
        names = list(METHODS)
        close = difflib.get_close_matches(method, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(
            f"unknown method {method!r}; {hint}valid methods: {', '.join(names)} (a method of your "
            "own: import its file first, or name it in KT_METHODS=path/to/method.py)"
        )
    return METHODS[method]


def list_methods() -> list[tuple[str, str]]:
    """``(name, description)`` for every registered method, in registry order."""
    return [(m.name, m.description) for m in METHODS.values()]


def loss_terms(method: str | Method, inputs: LossInputs, cfg: LossConfig) -> Parts:
    """The named (weighted) loss tensors of ``method``; their sum is the loss. No host sync (CUDA-graph safe)."""
    m = get_method(method)
    if cfg.goal not in m.goals:
        raise ValueError(f"method {m.name!r} supports goal {m.goals}, got {cfg.goal!r}")
    if inputs.fine_logits.shape[0] != inputs.coarse_logits.shape[0]:
        raise ValueError("fine_logits and coarse_logits must have the same batch size")
    return m.loss(inputs, cfg)


def compute_loss(
    method: str | Method, inputs: LossInputs, cfg: LossConfig
) -> tuple[Tensor, dict[str, float]]:
    """Total loss of ``method`` and its named (weighted) parts as floats; ``parts["loss"]`` is the total."""
    parts = loss_terms(method, inputs, cfg)
    total: Tensor = sum(parts.values())  # type: ignore[assignment]
    values = torch.stack([t.detach().float() for t in [*parts.values(), total]]).tolist()
    return total, dict(zip([*parts, "loss"], values))  # one host sync, the tolist


# -- pieces several losses share ------------------------------------------------------------------------


def need(inputs: LossInputs, field: str, method: str) -> Tensor:
    value = getattr(inputs, field)
    if value is None:
        raise ValueError(f"method {method!r} needs inputs.{field}, got None")
    return value


def forget_term(term, x: LossInputs, cfg: LossConfig, name: str, **kw) -> Parts:
    """The forget term on the level(s) chosen by cfg.goal; keys ``name`` or ``name_fine``/``name_coarse``."""
    levels = {"fine": ("fine",), "coarse": ("coarse",), "hybrid": ("fine", "coarse")}[cfg.goal]
    return {
        f"{name}_{level}" if len(levels) > 1 else name: term(
            getattr(x, f"{level}_logits"), getattr(x, f"{level}_labels"), **kw
        )
        for level in levels
    }


def kl_terms(x: LossInputs, cfg: LossConfig, method: str) -> Parts:
    """alpha_coarse*KL(coarse) + alpha_fine*KL_nontarget(fine); no coarse term when the coarse level is
    forgotten (goal coarse/hybrid): keeping it would fight the forget term."""
    out: Parts = {}
    if cfg.goal == "fine":
        out["kl_coarse"] = cfg.alpha_coarse * L.kl_div(
            x.coarse_logits, need(x, "ref_coarse_logits", method)
        )
    out["kl_fine"] = cfg.alpha_fine * L.kl_fine_nontarget(
        x.fine_logits, need(x, "ref_fine_logits", method), x.fine_labels
    )
    return out


def snapshot(model, into: dict | None = None, device="cpu") -> dict[str, torch.Tensor]:
    """A copy of the weights on `device` (None: where they are), or written into `into`, an earlier one."""
    state = {k: v.detach() for k, v in model.state_dict().items()}
    if into is None:
        return {k: v.to(device or v.device, copy=True) for k, v in state.items()}
    return {k: into[k].copy_(v) for k, v in state.items()}
