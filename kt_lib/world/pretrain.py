"""Pretrain the tiny world CLIP from scratch: each image gets one true caption per step ("a photo of a
beagle, a kind of hound."); as many images share a caption, the InfoNCE target is spread over every caption
that describes an image (`multi_positive_loss`). Fixed text-batch size, warmup + cosine by step."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from kt_lib.textenc import encode_text, trim_tokens
from kt_lib.vocab import CompactTokenEmbedding
from kt_lib.world.config import BREEDS, DOMAINS, FAMILIES, GROUPS, WorldConfig
from kt_lib.world.data import WorldDataset, load_pool, to_tensor
from kt_lib.zeroshot import TEMPLATES, accuracy, encode_images, predict, text_head


@dataclass(frozen=True)
class PretrainConfig:
    num_steps: int = 1300
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 50
    seed: int = 0
    threads: int = 2

    def __post_init__(self):
        if self.num_steps <= 0 or self.batch_size <= 1 or self.lr <= 0 or self.threads <= 0:
            raise ValueError(
                f"PretrainConfig needs num_steps > 0, batch_size > 1, lr > 0, threads > 0; got {self}"
            )


def caption_bank() -> tuple[list[str], np.ndarray]:
    """Every pretraining caption and its meaning (domain, kind, id): kind 0 fine, 1 coarse, 2 family class
    (id = family*100 + class), 3 family."""
    texts, meta = [], []
    for d, dom in enumerate(DOMAINS):
        for tpl in TEMPLATES[dom]:
            for b, (breed, spec) in enumerate(BREEDS.items()):
                texts += [tpl.format(breed), tpl.format(f"{breed}, a kind of {spec[0]}")]
                meta += [(d, 0, b), (d, 0, b)]
            for g, group in enumerate(GROUPS):
                texts.append(tpl.format(group))
                meta.append((d, 1, g))
    for tpl in TEMPLATES["photo"]:
        for f, (fam, classes) in enumerate(FAMILIES.items()):
            for c, cls in enumerate(classes):
                texts += [tpl.format(cls), tpl.format(f"{cls}, a kind of {fam}")]
                meta += [(0, 2, f * 100 + c), (0, 2, f * 100 + c)]
            texts.append(tpl.format(fam))
            meta.append((0, 3, f))
    return texts, np.array(meta, dtype=np.int64)


def _image_keys(arrays: dict) -> np.ndarray:
    """Per image: (domain, fine, coarse, family class, family) with -1 where not applicable."""
    f2c = np.array([list(GROUPS).index(s[0]) for s in BREEDS.values()])
    fine, fam = arrays["fine"].astype(np.int64), arrays["family"].astype(np.int64)
    coarse = np.where(fine >= 0, f2c[np.maximum(fine, 0)], -1)
    famcls = np.where(fam >= 0, fam * 100 + arrays["label"], -1)
    return np.stack([arrays["domain"].astype(np.int64), fine, coarse, famcls, fam], 1)


def _describes(keys: np.ndarray, meta: np.ndarray) -> np.ndarray:
    """[n_images, n_captions] bool: caption j truly describes image i."""
    dom = keys[:, None, 0] == meta[None, :, 0]
    col = np.array([1, 2, 3, 4])[meta[:, 1]]  # which image key a caption kind compares
    return dom & (keys[:, col] == meta[None, :, 2])


def leave_out(without) -> list[int]:
    """The breed ids of `without` (breed names of the world), for a never-learned reference model."""
    names = list(BREEDS)
    if unknown := [n for n in without if n not in names]:
        raise ValueError(f"unknown breeds {unknown}; --without takes breed names like {names[0]!r}")
    return sorted({names.index(n) for n in without})


def drop_concepts(keys: np.ndarray, meta: np.ndarray, ids: list[int]):
    """(image mask, caption mask): False for breeds `ids`' images and fine captions (group captions stay)."""
    images = ~np.isin(keys[:, 1], ids)
    captions = ~((meta[:, 1] == 0) & np.isin(meta[:, 2], ids))
    return images, captions


def multi_positive_loss(logits: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE with targets spread over all positives (captions with none are dropped)."""
    pos = positive.float()
    img_t = pos / pos.sum(1, keepdim=True).clamp_min(1)
    loss_i = -(img_t * F.log_softmax(logits, 1)).sum(1)[pos.sum(1) > 0].mean()
    has = pos.sum(0) > 0
    txt_t = pos[:, has] / pos[:, has].sum(0, keepdim=True)
    loss_t = -(txt_t * F.log_softmax(logits[:, has], 0)).sum(0).mean()
    return (loss_i + loss_t) / 2


def _param_groups(model, weight_decay: float):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = p.ndim < 2 or "embedding" in name or "logit_scale" in name  # incl. class_embedding
        (no_decay if skip else decay).append(p)
    return [dict(params=decay, weight_decay=weight_decay), dict(params=no_decay, weight_decay=0.0)]


def lr_at(step: int, cfg: PretrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.num_steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + np.cos(np.pi * t))


def pretrain(
    model,
    tokenizer,
    world: WorldConfig,
    cfg: PretrainConfig,
    progress: bool = True,
    without: tuple[str, ...] = (),
) -> dict:
    """Train `model` in place; a history dict (loss per step, seconds, fine accuracy every 100 steps).
    `without`: breeds whose images and captions are left out (the never-learned reference). Runs on
    `cfg.threads` torch threads and gives the caller back its own count afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _pretrain(model, tokenizer, world, cfg, progress, without)
    finally:
        torch.set_num_threads(before)


def _pretrain(model, tokenizer, world, cfg, progress, without) -> dict:
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    arrays = load_pool(world, "pretrain")
    images = to_tensor(arrays["images"])
    keys = _image_keys(arrays)
    texts, meta = caption_bank()
    if without:
        keep_img, keep_cap = drop_concepts(keys, meta, leave_out(without))
        images, keys = images[torch.from_numpy(keep_img)], keys[keep_img]
        texts, meta = [t for t, k in zip(texts, keep_cap) if k], meta[keep_cap]
    tokens = trim_tokens(tokenizer(texts))
    probe = WorldDataset("test", "photo", world, per_class=10) if progress else None
    full_embedding = model.token_embedding
    model.token_embedding = CompactTokenEmbedding(full_embedding, tokens.flatten())
    # which caption each image may get: its own descriptions only
    options = [np.flatnonzero(row) for row in _describes(keys, meta)]
    groups = _param_groups(model, cfg.weight_decay)
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    history: dict = {"loss": [], "evals": []}
    model.train()
    start = time.perf_counter()
    bar = tqdm(range(cfg.num_steps), desc="pretraining the world model", disable=not progress)
    for step in bar:
        idx = rng.choice(len(images), cfg.batch_size, replace=False)
        chosen = np.array([rng.choice(options[i]) for i in idx])
        uniq = np.unique(chosen)
        others = np.setdiff1d(np.arange(len(texts)), uniq)
        fill = rng.choice(others, cfg.batch_size - len(uniq), replace=False)
        cap_ids = np.concatenate([uniq, fill])
        positive = torch.from_numpy(_describes(keys[idx], meta[cap_ids]))
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        img_f = F.normalize(model.encode_image(images[idx]), dim=-1)
        txt_f = F.normalize(encode_text(model, tokens[cap_ids], length=tokens.shape[1]), dim=-1)
        loss = multi_positive_loss(model.logit_scale.exp() * img_f @ txt_f.T, positive)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"pretraining loss became {loss.item()} at step {step}; lower lr (now {cfg.lr})"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, np.log(100))
        history["loss"].append(loss.item())
        if probe is not None and ((step + 1) % 100 == 0 or step + 1 == cfg.num_steps):
            head = text_head(model, tokenizer, list(BREEDS))
            fine = accuracy(predict(encode_images(model, probe.images), head), probe.fine)
            history["evals"].append(dict(step=step + 1, fine=fine))
            bar.set_postfix(fine=f"{fine:.2f}", loss=f"{loss.item():.3f}")
            model.train()
        elif step % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    history["train_seconds"] = time.perf_counter() - start
    with torch.no_grad():  # rows no caption uses carry no knowledge: zero them (compact checkpoint)
        full_embedding.weight.zero_()
        model.token_embedding = model.token_embedding.merge_into(full_embedding)
    model.eval()
    history["config"] = asdict(cfg)
    history.update(without=sorted(without), images=len(images), captions=len(texts))
    return history
