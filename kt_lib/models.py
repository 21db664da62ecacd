"""One function to get a CLIP: `load_model(name, pretrained, device) -> (model, preprocess, tokenizer)`.

- the embedded default: `load_model()` or `load_model("kt-tiny-dogworld")` (loads the shipped/cached
  world model, or pretrains it once);
- any open_clip model and pretrained tag: `load_model("ViT-B-32", "openai")`, `load_model("ViT-L-14", "openai")`;
- a local weights file: `load_model("ViT-B-32", "/path/to/weights.pt")` or a kt checkpoint
  `load_model("kt-tiny-dogworld", "/path/to/file.safetensors")`;
- an open_clip folder: `load_model("local-dir:/path/to/folder")`;
- an untrained architecture (tests, timing): `load_model("ViT-B-32", "random")` (seeded, no download).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import open_clip
import torch

from kt_lib.checkpoint import load_checkpoint, load_into
from kt_lib.world.model import MODEL_NAME, create_world_model, register_configs, world_model

DEFAULT_MODEL = MODEL_NAME
RANDOM = "random"  # `pretrained` tag of an untrained (seeded) architecture


def get_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda if available, else cpu; anything else is checked."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {device} was requested but CUDA is not available; use device='cpu' or 'auto'"
        )
    return device


def _world_preprocess(model):
    return open_clip.image_transform(model.visual.image_size, is_train=False)


def _download_hint(name: str, pretrained: str, cache_dir: str | None) -> str:
    hub = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
    return (
        f"could not load open_clip weights ({name!r}, {pretrained!r}). They are downloaded on first use into "
        f"{cache_dir or hub} (or ~/.cache/clip for plain URLs), which needs network access. Offline, either "
        f"put the weights file on disk and pass its path (load_model({name!r}, '/path/to/weights.pt')), use "
        f"an open_clip folder (load_model('local-dir:/path')), or use the embedded default "
        f"(load_model('{MODEL_NAME}')), which needs no download."
    )


def load_model(
    name: str = DEFAULT_MODEL,
    pretrained: str | None = None,
    device: str | torch.device = "auto",
    cache_dir: str | None = None,
    retrain: bool = False,
    progress: bool = True,
):
    """(model, preprocess, tokenizer), the model in eval mode on `device`."""
    device = get_device(device)
    register_configs()
    if name == MODEL_NAME:
        if pretrained == RANDOM:
            model, tokenizer = create_world_model(seed=0)
        elif pretrained is None:
            model, tokenizer, _ = world_model(retrain=retrain, progress=progress)
        else:
            model, tokenizer = create_world_model()
            load_into(model, load_checkpoint(pretrained)[0], f"checkpoint {pretrained}")
        return model.to(device).eval(), _world_preprocess(model), tokenizer
    if not name.startswith(("local-dir:", "hf-hub:")) and name not in open_clip.list_models():
        close = difflib.get_close_matches(name, open_clip.list_models(), n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}{hint} (see open_clip.list_models())")
    random = pretrained == RANDOM
    a_path = pretrained and ("/" in pretrained or os.sep in pretrained) and Path(pretrained).suffix
    if a_path and not name.startswith("local-dir:") and not Path(pretrained).exists():
        raise FileNotFoundError(f"weights file {pretrained} does not exist")
    try:
        with torch.random.fork_rng(devices=[], enabled=random):  # a random model is seeded
            if random:
                torch.manual_seed(0)
            model, _, preprocess = open_clip.create_model_and_transforms(
                name, pretrained=None if random else pretrained, device=device, cache_dir=cache_dir
            )
    except (RuntimeError, OSError) as err:
        if pretrained and not random and not Path(str(pretrained)).exists():
            raise RuntimeError(_download_hint(name, pretrained, cache_dir)) from err
        raise
    return model.eval(), preprocess, open_clip.get_tokenizer(name, cache_dir=cache_dir)
