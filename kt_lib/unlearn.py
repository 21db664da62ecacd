"""The unlearning trainer: fine-tune a copy of CLIP on a proxy forgetting set with a registered method.

`unlearn` runs `kt_lib.step.unlearn_step` in a loop (one random prompt template per batch, Adam under a
cosine schedule) with the method's hooks (the SalUn mask, the task-vector negation) and the selection of an
epoch. A non-finite loss stops the run and keeps the last good weights; the caller's model is never
modified. The `paper` preset picks the official trainer's mechanics (`kt_lib.presets`, `kt_lib.prompts`).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from kt_lib.efficiency import PeakMemory, parameters_changed
from kt_lib.losses import random_other_labels
from kt_lib.methods import LossConfig, Run, get_method
from kt_lib.methods.base import snapshot
from kt_lib.methods.projection import RIDGE
from kt_lib.methods.salun import FRACTION
from kt_lib.methods.task_vector import LAMBDA
from kt_lib.presets import DEFAULTS, default_lr
from kt_lib.prompts import PromptBank
from kt_lib.ranges import check_floats
from kt_lib.selection import select_epoch
from kt_lib.step import set_trainable, unlearn_step
from kt_lib.vocab import compact_vocabulary
from kt_lib.zeroshot import TEMPLATES, autocast, model_device, template_set

TOWERS = ("both", "image", "text")
CHOICES = dict(
    towers=TOWERS,
    optimizer=("adam", "adamw"),
    schedule=("cosine_step", "cosine_epoch"),
    reference=("template", "ensemble"),
    select=("last", "holdout", "min_forget_fine"),
)
# in every run's cache key: bump it when the engine's numbers or rows change (5: rows gained EFFICIENCY)
ENGINE_VERSION = 5
__all__ = [
    "EFFICIENCY",
    "ENGINE_VERSION",
    "UnlearnConfig",
    "UnlearnResult",
    "default_lr",
    "unlearn",
]
# what a run cost, in every row (`UnlearnResult.efficiency`; `seconds` is the result's own field)
EFFICIENCY = ("seconds", "peak_memory_mb", "memory_added_mb", "memory", "params_changed")
EFFICIENCY += ("params_total", "tensors_changed", "tensors_total")


@dataclass
class UnlearnConfig:
    """Hyper-parameters of one unlearning run (the notebook/CLI vocabulary)."""

    method: str = "nhl_kl"
    lr: float | None = None  # None: the model's own rate, default_lr (2e-4 world, 1e-7 ViT-L/14)
    # the budget: `num_steps` optimiser steps (batches) or `num_epochs` passes over the forget set, one of
    # them; neither: DEFAULTS["num_steps"] (the paper preset sets num_epochs=8)
    num_steps: int | None = None
    num_epochs: int | None = None
    batch_size: int = DEFAULTS["batch_size"]
    margin: float = DEFAULTS["margin"]
    alpha_coarse: float = DEFAULTS["alpha_coarse"]
    alpha_fine: float = DEFAULTS["alpha_fine"]
    beta: float = DEFAULTS["beta"]
    goal: str = "fine"
    towers: str = "both"  # which towers are updated: both | image | text
    seed: int = 0
    salun_fraction: float = FRACTION  # SalUn: the share of weights (largest |grad|) that may move
    task_vector_lambda: float = LAMBDA  # task vector: theta0 - lambda * (theta_ft - theta0)
    ridge: float = RIDGE  # projection: 0 spares the retained classes' heads; larger erases more
    # "last" | "holdout" (best epoch on a held-out proxy split) | "min_forget_fine" (the official rule)
    select: str = "last"
    holdout_fraction: float = 0.2
    templates: tuple[str, ...] = TEMPLATES["photo"]
    template_set: str | None = None  # a named set (e.g. "openai80") replaces `templates`
    optimizer: str = "adam"  # "adam" (fused) | "adamw" (the official trainer's)
    eps: float = 1e-8
    weight_decay: float = 0.0
    schedule: str = "cosine_step"  # cosine stepped every batch | "cosine_epoch": once per epoch
    reference: str = "template"  # KL/NPO reference: the step's template | "ensemble": averaged head
    preset: str = "default"  # recorded: which preset these settings came from
    progress: bool = False

    def __post_init__(self):
        get_method(self.method)  # unknown names raise with suggestions
        for name, options in CHOICES.items():
            if getattr(self, name) not in options:
                raise ValueError(f"{name} must be one of {options}, got {getattr(self, name)!r}")
        if self.num_steps is not None and self.num_epochs is not None:
            steps, epochs = self.num_steps, self.num_epochs
            raise ValueError(f"give num_steps or num_epochs, not both (got {steps} and {epochs})")
        if self.num_steps is None and self.num_epochs is None:
            self.num_steps = DEFAULTS["num_steps"]
        amount = self.num_steps if self.num_epochs is None else self.num_epochs
        if amount <= 0 or self.batch_size <= 0:
            raise ValueError(
                f"num_steps/num_epochs and batch_size must be positive, got {amount}, {self.batch_size}"
            )
        check_floats(self)  # lr, margin, alphas, beta, fractions, ...: finite and in range
        if self.template_set is not None:
            self.templates = template_set(self.template_set)
        self.templates = tuple(self.templates)

    def budget(self, num_images: int) -> tuple[int, int, int]:
        """(total steps, epochs, steps per epoch) for a forget set of `num_images` images; with `num_steps`
        the last epoch may stop part-way."""
        per_epoch = math.ceil(num_images / self.batch_size)
        total = self.num_steps if self.num_steps is not None else self.num_epochs * per_epoch
        return total, math.ceil(total / per_epoch), per_epoch

    def loss_config(self) -> LossConfig:
        return LossConfig(**{f.name: getattr(self, f.name) for f in fields(LossConfig)})


@dataclass
class UnlearnResult:
    model: torch.nn.Module
    history: pd.DataFrame
    seconds: float
    stopped: str | None = None  # why the run stopped early (non-finite loss), else None
    info: dict = field(default_factory=dict)
    efficiency: dict = field(
        default_factory=dict
    )  # memory and parameters changed: see `PeakMemory`


def unlearn(
    model,
    tokenizer,
    images: torch.Tensor,
    fine_labels: torch.Tensor,
    coarse_labels: torch.Tensor,
    fine_names: list[str],
    coarse_names: list[str],
    cfg: UnlearnConfig,
    holdout_score=None,
    on_step=None,
) -> UnlearnResult:
    """Unlearn the concepts of (images, labels) from a copy of `model`: `unlearn_step` in a loop, with the
    method's hooks before the first step, after each step and at the end (`kt_lib.methods.base`).

    `holdout_score(model, images, fine, coarse) -> float` (higher is better) is used with
    `cfg.select == "holdout"`; `kt_lib.selection.holdout_score` is the default. `on_step(row)` (optional:
    a progress display) gets each step's step, epoch, loss terms, `total` (the run's steps) and
    `forget_accuracy` (the batch's, from the step's logits) as soon as its loss is known, before the
    update; the results are the same with or without it, and an exception it raises stops the run.
    """
    method = get_method(cfg.method)
    gen, rng = torch.Generator().manual_seed(cfg.seed), np.random.default_rng(cfg.seed)
    data, names = (images, fine_labels.long(), coarse_labels.long()), (fine_names, coarse_names)
    memory = PeakMemory(model_device(model))  # from before the copy of the model: it counts
    run, holdout, other = _start(model, tokenizer, data, names, cfg, gen)
    cfg, start = run.cfg, time.perf_counter()
    method.prepare(run)
    model = run.model
    prompts = _prompt_features(model, run.bank, cfg.towers)
    full_embedding = compact_vocabulary(model, run.bank) if method.compact_vocabulary else None
    params = [p for p in model.parameters() if p.requires_grad]
    total, _, steps_per_epoch = cfg.budget(len(run.images))
    total *= run.epochs > 0
    opt, sched = optimizer_and_schedule(params, cfg, total, run.epochs)
    rows, stopped, best, last_good = [], None, (-np.inf, None, 0), snapshot(model)
    loss_cfg = cfg.loss_config()
    bar = tqdm(total=total, desc=f"unlearning ({cfg.method})", disable=not cfg.progress)

    def report(parts):  # on_step: this step's loss terms, before its update
        on_step(dict(step=len(rows), epoch=epoch, total=total, **parts))

    for epoch in range(run.epochs):
        order = torch.randperm(len(run.images), generator=gen)
        for b in range(min(steps_per_epoch, total - len(rows))):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size].to(run.images.device)
            t = int(rng.integers(len(cfg.templates)))
            parts = unlearn_step(
                model, opt, run.images[idx], run.fine_labels[idx], run.coarse_labels[idx],
                lambda m, t=t: prompts(m, t), method=method, loss_cfg=loss_cfg,
                reference=tuple(None if r is None else r[t, idx] for r in run.reference),
                other_labels=other[idx], on_loss=on_step and report,
            )  # fmt: skip
            if not math.isfinite(parts["loss"]):
                stopped = f"loss became {parts['loss']} at epoch {epoch} step {b}; kept the last good weights"
                break
            if cfg.schedule == "cosine_step":
                sched.step()
            method.after_step(run)
            rows.append(
                dict(step=len(rows), epoch=epoch, template=t, lr=sched.get_last_lr()[0], **parts)
            )
            bar.update(1)
        if stopped:
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                model.load_state_dict(last_good)  # weights went bad: the last finished epoch
            break
        snapshot(model, last_good)
        if cfg.schedule == "cosine_epoch":
            sched.step()
        best = select_epoch(run, epoch, rows, best, holdout, holdout_score)
    bar.close()
    selects = holdout is not None or cfg.select == "min_forget_fine"
    if selects and best[1] is not None and not stopped:
        model.load_state_dict(best[1])
    if full_embedding is not None:
        model.token_embedding = model.token_embedding.merge_into(full_embedding)
    method.finish(run)
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    selected = best[2] if selects and not stopped else run.epochs - 1 if run.epochs else None
    info = dict(config=asdict(cfg), steps=len(rows), epochs=run.epochs, selected_epoch=selected)
    seconds = time.perf_counter() - start
    efficiency = dict(memory.stop(), **parameters_changed(run.original, model))
    return UnlearnResult(
        model, pd.DataFrame(rows), seconds, stopped, {**info, **run.info}, efficiency
    )


def _start(model, tokenizer, data, names, cfg, gen):
    """The run before its first step: (Run, the held-out split or None, each image's random other label).
    `data` is (images, fine, coarse), `names` (fine, coarse). The caller's model is copied; the copy
    trains `cfg.towers`; the forget set goes to the model's device."""
    if cfg.lr is None:
        cfg = replace(cfg, lr=default_lr(model))
    if len(data[0]) == 0:
        raise ValueError("the forget set is empty: give at least one exemplar image per concept")
    device, holdout = model_device(model), None
    if cfg.select == "holdout":
        data, holdout = _split_holdout(data, cfg.holdout_fraction, gen)
    other = random_other_labels(data[1], len(names[0]), gen)
    # the proxy forget set is small: put it on the device once instead of copying every batch
    images, fine, coarse, other = (x.to(device) for x in (*data, other))
    copy_ = copy.deepcopy(model).to(device)
    copy_.train()
    set_trainable(copy_, cfg.towers)
    bank, epochs = PromptBank(tokenizer, *names, cfg.templates, device), cfg.budget(len(images))[1]
    run = Run(copy_, model, tokenizer, images, fine, coarse, *names, bank, cfg, epochs)
    return run, holdout, other


def _split_holdout(data, fraction: float, gen: torch.Generator):
    """(train, holdout) splits of (images, fine, coarse): a random `fraction` (at least one) held out."""
    perm = torch.randperm(len(data[0]), generator=gen)
    n_hold = max(1, int(round(fraction * len(data[0]))))
    hold, train = perm[:n_hold], perm[n_hold:]
    return tuple(x[train] for x in data), tuple(x[hold] for x in data)


def _prompt_features(model, bank: PromptBank, towers: str):
    """`prompts(model, t)`: the bank's features of template t; encoded once when the text tower is frozen."""
    if towers != "image":
        return bank.features
    with torch.no_grad(), autocast(model_device(model)):
        frozen = [bank.features(model, t) for t in range(len(bank.joint))]
    return lambda _model, t: frozen[t]


def optimizer_and_schedule(params, cfg, total_steps: int, num_epochs: int = 1):
    """(optimizer, scheduler): fused Adam or AdamW (one kernel for all parameters; on CPU ~7x faster than
    the per-tensor loop) under a cosine schedule over `total_steps` steps, or over `num_epochs` epochs with
    `schedule="cosine_epoch"` (the caller steps it once per epoch; `UnlearnConfig.budget` gives both)."""
    if cfg.lr is None:
        raise ValueError("cfg.lr is None: resolve it with default_lr(model) first (unlearn() does)")
    make = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    opt = make(params, lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay, fused=True)
    t_max = num_epochs if cfg.schedule == "cosine_epoch" else total_steps
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, t_max))
