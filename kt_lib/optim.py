"""The optimiser and learning-rate schedule of an unlearning run (`UnlearnConfig.optimizer`, `.schedule`)."""

from __future__ import annotations

import torch


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
