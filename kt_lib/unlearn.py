"""The unlearning trainer: fine-tune a copy of CLIP on a proxy forgetting set with a registered method.

Per step: one prompt template is sampled, the forget images are scored against all fine prompts and all
coarse prompts (`logit_scale.exp() * cos`), and the method's loss is minimised with Adam under a cosine
schedule. The original model's logits on every (image, template) are computed once and cached (exact,
since the images are preprocessed tensors), instead of a second model forward each step. Text prompts are
encoded over the shortest context that holds them. A non-finite loss stops the run and keeps the last
good weights. The caller's model is never modified.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from kt_lib.eval.zeroshot import TEMPLATES, autocast, model_device
from kt_lib.fast.textenc import encode_text, trim_tokens
from kt_lib.fast.vocab import compact_vocabulary
from kt_lib.losses import ga, random_other_labels
from kt_lib.methods import (
    LossConfig,
    LossInputs,
    compute_loss,
    enforce_mask_,
    get_method,
    negate_task_vector,
    saliency_mask,
)

TOWERS = ("both", "image", "text")


@dataclass
class UnlearnConfig:
    """Hyper-parameters of one unlearning run (the notebook/CLI vocabulary)."""

    method: str = "nhl_kl"
    lr: float = 2e-4  # tiny world model; the paper uses 1e-7 for ViT-L/14 (see default_lr)
    num_epochs: int = 8
    batch_size: int = 32
    margin: float = 2.0
    alpha_coarse: float = 10.0
    alpha_fine: float = 20.0
    beta: float = 0.5
    goal: str = "fine"
    towers: str = "both"  # which towers are updated: both | image | text
    seed: int = 0
    salun_fraction: float = 0.5  # SalUn: fraction of weights (largest |grad of -CE|) that may move
    task_vector_lambda: float = 1.0  # task vector: theta0 - lambda * (theta_ft - theta0)
    select: str = (
        "last"  # "last" | "holdout": keep the epoch scoring best on a held-out proxy split
    )
    holdout_fraction: float = 0.2
    templates: tuple[str, ...] = TEMPLATES["photo"]
    progress: bool = False

    def __post_init__(self):
        get_method(self.method)  # unknown names raise with suggestions
        if self.towers not in TOWERS:
            raise ValueError(f"towers must be one of {TOWERS}, got {self.towers!r}")
        if self.select not in ("last", "holdout"):
            raise ValueError(f"select must be 'last' or 'holdout', got {self.select!r}")
        if self.lr <= 0 or self.num_epochs <= 0 or self.batch_size <= 0:
            raise ValueError("lr, num_epochs and batch_size must be positive")
        if not 0 < self.salun_fraction <= 1 or not 0 < self.holdout_fraction < 1:
            raise ValueError("salun_fraction must lie in (0, 1] and holdout_fraction in (0, 1)")
        self.templates = tuple(self.templates)

    def loss_config(self) -> LossConfig:
        return LossConfig(
            margin=self.margin,
            alpha_coarse=self.alpha_coarse,
            alpha_fine=self.alpha_fine,
            beta=self.beta,
            goal=self.goal,
        )


def default_lr(model_name: str) -> float:
    """Learning rates that forget without collapsing NHL+KL (8 epochs, batch 32). The tiny world model
    needs ~2000x the paper's 1e-7 (ViT-L/14): on request A at 1e-4 GA does not yet collapse (U 0.58) and at
    2e-4 it does (U 0.17) while NHL+KL stays at Q-U 0.95 / 0.93 (notebook 05's strength sweep; the older
    benchmarks/lr_sweep.md shows the same picture on the previous world)."""
    if model_name.startswith("kt-tiny"):
        return 2e-4
    return 1e-6 if "B-" in model_name else 1e-7


@dataclass
class UnlearnResult:
    model: torch.nn.Module
    history: pd.DataFrame
    seconds: float
    stopped: str | None = None  # why the run stopped early (non-finite loss), else None
    info: dict = field(default_factory=dict)


class PromptBank:
    """Tokenised fine and coarse prompts for each template, trimmed to the shortest exact context.
    `features` encodes the fine and coarse prompts of a template in one text-tower pass (half the kernel
    launches of two passes; exact, since padding after a prompt's end token never reaches its feature)."""

    def __init__(self, tokenizer, fine_names, coarse_names, templates, device):
        self.joint = [
            trim_tokens(tokenizer([t.format(c) for c in [*fine_names, *coarse_names]])).to(device)
            for t in templates
        ]
        self.n_fine = len(fine_names)
        self.fine = [
            j[: self.n_fine] for j in self.joint
        ]  # views of the joint tokens, per template
        self.coarse = [j[self.n_fine :] for j in self.joint]

    def features(self, model, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised (fine, coarse) prompt features of template `t`."""
        feats = F.normalize(encode_text(model, self.joint[t]), dim=-1)
        return feats[: self.n_fine], feats[self.n_fine :]


def _logits(model, images, text_fine, text_coarse, image_features=None):
    img = (
        image_features
        if image_features is not None
        else F.normalize(model.encode_image(images), dim=-1)
    )
    scale = model.logit_scale.exp()
    return scale * img @ text_fine.T, scale * img @ text_coarse.T


@torch.no_grad()
def reference_logits(model, images: torch.Tensor, bank: PromptBank, batch_size: int = 256):
    """The original model's [T, N, C] fine and coarse logits, computed once."""
    device = model_device(model)
    fine, coarse = [], []
    with autocast(device):
        feats = torch.cat(
            [
                F.normalize(model.encode_image(images[i : i + batch_size].to(device)), dim=-1)
                for i in range(0, len(images), batch_size)
            ]
        )
        for t in range(len(bank.fine)):
            tf, tc = bank.features(model, t)
            f, c = _logits(model, None, tf, tc, image_features=feats)
            fine.append(f.float())
            coarse.append(c.float())
    return torch.stack(fine), torch.stack(coarse)


def _set_trainable(model, towers: str) -> list[torch.nn.Parameter]:
    text_prefixes = (
        "transformer.",
        "token_embedding",
        "positional_embedding",
        "ln_final",
        "text_projection",
        "text.",
    )
    params = []
    for name, p in model.named_parameters():
        is_text = name.startswith(text_prefixes)
        is_image = name.startswith("visual.")
        train = (
            towers == "both" or (towers == "text" and is_text) or (towers == "image" and is_image)
        )
        p.requires_grad_(train)
        if train:
            params.append(p)
    return params


def _optimizer(params, lr: float, device: torch.device):
    """Fused Adam (one kernel for all parameters; on CPU ~7x faster than the per-tensor loop)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


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
) -> UnlearnResult:
    """Unlearn the concepts of (images, labels) from a copy of `model`.

    `holdout_score(model, images, fine, coarse) -> float` (higher is better) is used with
    `cfg.select == "holdout"`; `kt_lib.eval.evaluator.holdout_score` is the default.
    """
    spec = get_method(cfg.method)
    device = model_device(model)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    if len(images) == 0:
        raise ValueError("the forget set is empty: give at least one exemplar image per concept")
    fine_labels, coarse_labels = fine_labels.long(), coarse_labels.long()
    if cfg.select == "holdout":
        perm = torch.randperm(len(images), generator=gen)
        n_hold = max(1, int(round(cfg.holdout_fraction * len(images))))
        hold, train = perm[:n_hold], perm[n_hold:]
        holdout = (images[hold], fine_labels[hold], coarse_labels[hold])
        images, fine_labels, coarse_labels = images[train], fine_labels[train], coarse_labels[train]
        if holdout_score is None:
            from kt_lib.eval.evaluator import holdout_score
    original = model
    model = copy.deepcopy(original).to(device)
    bank = PromptBank(tokenizer, fine_names, coarse_names, cfg.templates, device)
    ref_fine = ref_coarse = None
    if spec.needs_reference:
        ref_fine, ref_coarse = reference_logits(original.eval(), images, bank)
    other = random_other_labels(fine_labels, len(fine_names), gen)
    # the proxy forget set is small: put it on the device once instead of copying every batch
    images, fine_labels, coarse_labels, other = (
        x.to(device) for x in (images, fine_labels, coarse_labels, other)
    )
    theta0 = (
        {k: v.detach().clone() for k, v in model.state_dict().items()}
        if spec.kind != "loss"
        else None
    )
    model.train()
    params = _set_trainable(model, cfg.towers)
    mask = _salun_mask(model, images, fine_labels, bank, cfg) if spec.kind == "saliency" else None
    frozen_text = None
    if cfg.towers == "image":  # the text tower does not move: encode its prompts once
        with torch.no_grad(), autocast(device):
            frozen_text = [bank.features(model, t) for t in range(len(cfg.templates))]
    full_embedding = (
        compact_vocabulary(model, bank) if spec.kind != "saliency" else None
    )  # SalUn masks full shapes
    if full_embedding is not None:
        params = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(params, cfg.lr, device)
    steps_per_epoch = int(np.ceil(len(images) / cfg.batch_size))
    total = steps_per_epoch * cfg.num_epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    loss_cfg = cfg.loss_config()
    rows, stopped, best = [], None, (-np.inf, None, 0)
    last_good = _snapshot(model)
    start = time.perf_counter()
    bar = tqdm(total=total, desc=f"unlearning ({cfg.method})", disable=not cfg.progress)
    for epoch in range(cfg.num_epochs):
        order = torch.randperm(len(images), generator=gen)
        for b in range(steps_per_epoch):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size].to(device)
            t = int(rng.integers(len(cfg.templates)))
            with autocast(device):
                tf, tc = frozen_text[t] if frozen_text else bank.features(model, t)
                fine_logits, coarse_logits = _logits(model, images[idx], tf, tc)
            inputs = LossInputs(
                fine_logits.float(),
                coarse_logits.float(),
                fine_labels[idx],
                coarse_labels[idx],
                None if ref_fine is None else ref_fine[t, idx],
                None if ref_coarse is None else ref_coarse[t, idx],
                other[idx],
            )
            loss, parts = compute_loss(
                cfg.method, inputs, loss_cfg
            )  # parts: floats, the step's one host sync
            if not np.isfinite(parts["loss"]):
                stopped = f"loss became {parts['loss']} at epoch {epoch} step {b}; kept the last good weights"
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if mask is not None:
                enforce_mask_(model, mask, theta0)
            with torch.no_grad():
                model.logit_scale.clamp_(0, np.log(100))
            rows.append(
                dict(step=len(rows), epoch=epoch, template=t, lr=sched.get_last_lr()[0], **parts)
            )
            bar.update(1)
        if stopped:
            if not all(torch.isfinite(p).all() for p in model.parameters()):
                model.load_state_dict(
                    last_good
                )  # weights went bad: back to the last finished epoch
            break
        last_good = _snapshot(model)
        if cfg.select == "holdout":
            score = holdout_score(
                model,
                *holdout,
                fine_names=fine_names,
                coarse_names=coarse_names,
                tokenizer=tokenizer,
                reference=original,
            )
            rows[-1]["holdout_score"] = score
            if score > best[0]:
                best = (
                    score,
                    {k: v.detach().clone() for k, v in model.state_dict().items()},
                    epoch,
                )
            model.train()
    bar.close()
    if cfg.select == "holdout" and best[1] is not None and not stopped:
        model.load_state_dict(best[1])
    if full_embedding is not None:
        model.token_embedding = model.token_embedding.merge_into(full_embedding)
    if spec.kind == "task_vector":
        model.load_state_dict(
            negate_task_vector(theta0, model.state_dict(), cfg.task_vector_lambda)
        )
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    info = dict(
        config={k: v for k, v in asdict(cfg).items()},
        steps=len(rows),
        selected_epoch=best[2] if cfg.select == "holdout" else cfg.num_epochs - 1,
    )
    return UnlearnResult(model, pd.DataFrame(rows), time.perf_counter() - start, stopped, info)


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _salun_mask(model, images, fine_labels, bank, cfg: UnlearnConfig):
    """SalUn's weight saliency: the top `salun_fraction` of |grad of -CE(fine)| over the forget set."""
    model.zero_grad(set_to_none=True)
    for i in range(0, len(images), cfg.batch_size):
        tf, tc = bank.features(model, 0)
        fine_logits, _ = _logits(model, images[i : i + cfg.batch_size], tf, tc)
        (
            ga(fine_logits.float(), fine_labels[i : i + cfg.batch_size])
            * len(fine_logits)
            / len(images)
        ).backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return saliency_mask(grads, cfg.salun_fraction)
