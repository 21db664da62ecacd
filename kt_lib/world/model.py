"""The default model, a tiny open_clip CLIP that has learned the embedded world: `world_model()` loads the
checkpoint of this (world, pretraining) configuration, shipped or cached, or pretrains once and caches it."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import open_clip
import torch

from kt_lib.cachefile import CACHE_HINT, cache_dir, discard
from kt_lib.checkpoint import CheckpointError, load_checkpoint, load_into, save_checkpoint
from kt_lib.world.config import FAMILIES, WorldConfig, WorldTaxonomy
from kt_lib.world.data import FamilyDataset, WorldDataset
from kt_lib.world.pretrain import PretrainConfig, leave_out, pretrain
from kt_lib.zeroshot import TEMPLATES, accuracy, encode_images, predict, text_head

MODEL_NAME = "kt-tiny-dogworld"


def register_configs() -> None:
    """Make `kt-tiny-dogworld` known to open_clip (idempotent)."""
    if MODEL_NAME not in open_clip.list_models():
        open_clip.add_model_config(str(resources.files("kt_lib") / "model_configs"))


def create_world_model(seed: int | None = None):
    """An untrained tiny CLIP, (model, tokenizer), seeded without touching the global random state."""
    register_configs()
    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(max(level, logging.ERROR))  # open_clip warns "no pretrained weights"
    try:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            model = open_clip.create_model(MODEL_NAME, pretrained=None)
    finally:
        root.setLevel(level)
    return model, open_clip.get_tokenizer(MODEL_NAME)


def checkpoint_name(world: WorldConfig, cfg: PretrainConfig, without=()) -> str:
    """The checkpoint's file name: a hash of world, schedule and architecture (and of `without`'s breeds)."""
    register_configs()
    model = open_clip.get_model_config(MODEL_NAME)
    spec = json.dumps(dict(world=world.digest(), pretrain=asdict(cfg), model=model), sort_keys=True)
    name = f"{MODEL_NAME}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"
    if without:
        left_out = json.dumps(sorted(set(without)))
        name += f"-without-{hashlib.sha256(left_out.encode()).hexdigest()[:8]}"
    return name + ".safetensors"


def shipped_checkpoint(world: WorldConfig, cfg: PretrainConfig) -> Path:
    return Path(str(resources.files("kt_lib") / "checkpoints" / checkpoint_name(world, cfg)))


def evaluate_world_model(model, tokenizer, world: WorldConfig | None = None) -> dict:
    """Zero-shot accuracies on the test pool: fine, coarse, coarse_via_fine (and *_ood), zero_shot per family."""
    world = world or WorldConfig()
    tax = WorldTaxonomy()
    model.eval()
    f2c = torch.tensor(tax.fine_to_coarse)
    out = {}
    for domain, key in (("photo", ""), ("drawing", "_ood")):
        ds = WorldDataset("test", domain, world)
        feats = encode_images(model, ds.images)
        fine_pred = predict(feats, text_head(model, tokenizer, tax.fine, TEMPLATES[domain]))
        coarse_pred = predict(feats, text_head(model, tokenizer, tax.coarse, TEMPLATES[domain]))
        out["fine" + key] = accuracy(fine_pred, ds.fine)
        out["coarse" + key] = accuracy(coarse_pred, ds.coarse)
        out["coarse_via_fine" + key] = accuracy(f2c[fine_pred], ds.coarse)
    out["zero_shot"] = {}
    for family in FAMILIES:
        ds = FamilyDataset(family, "test", world)
        pred = predict(encode_images(model, ds.images), text_head(model, tokenizer, ds.classes))
        out["zero_shot"][family] = accuracy(pred, ds.labels)
    return out


def world_model(
    world: WorldConfig | None = None,
    cfg: PretrainConfig | None = None,
    retrain: bool = False,
    progress: bool = True,
    save_to: Path | None = None,
    without=(),
):
    """(model, tokenizer, info), loaded or pretrained-and-cached. `retrain`: pretrain from scratch into
    `save_to` (default: the cache); `without` (breed names): the never-learned reference, pretrained without
    those breeds' images and captions, cached under its own name (never shipped)."""
    world, cfg = world or WorldConfig(), cfg or PretrainConfig()
    without = tuple(sorted(set(without)))
    leave_out(without)  # unknown names fail before anything is loaded or trained
    model, tokenizer = create_world_model(seed=cfg.seed)
    name = checkpoint_name(world, cfg, without)
    shipped, cached = shipped_checkpoint(world, cfg), cache_dir() / name
    candidates = [cached] if without else [shipped, cached]  # only the full model ships
    for path in [] if retrain else candidates:
        if not path.exists():
            continue
        try:  # the cache must carry a checksum (format 2); the shipped file may predate it
            state, meta = load_checkpoint(path, require_format=1 if path == shipped else 2)
            load_into(model, state, f"checkpoint {path}")
        except CheckpointError as err:
            if path == shipped:
                raise CheckpointError(f"{err} (the package is damaged: reinstall kt_lib)") from err
            discard(path, f"not a usable world model ({err})", "pretraining it again")
            continue
        model.eval()
        return model, tokenizer, dict(meta, checkpoint=str(path), loaded=True)
    history = pretrain(model, tokenizer, world, cfg, progress, without)
    path = save_to or cached
    meta = dict(
        world=world.digest(),
        world_config=asdict(world),
        pretrain=asdict(cfg),
        train_seconds=round(history["train_seconds"], 1),
        final_loss=history["loss"][-1],
        torch=torch.__version__,
        open_clip=open_clip.__version__,
        without=list(without),
    )
    hint = CACHE_HINT if save_to is None else "choose another --save-to path"
    save_checkpoint(model.state_dict(), path, meta, compact_vocab=True, hint=hint)
    return model, tokenizer, dict(meta, checkpoint=str(path), loaded=False, history=history)
