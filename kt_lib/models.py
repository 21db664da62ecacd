"""One function to get a CLIP, `load_model(name, pretrained, device) -> (model, preprocess, tokenizer)`: the
world model by default, any open_clip name and tag or weights file, and `pretrained="random"` (seeded)."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import open_clip
import torch

from kt_lib.checkpoint import load_checkpoint, load_into
from kt_lib.world.model import MODEL_NAME, create_world_model, register_configs, world_model

RANDOM = "random"  # `pretrained` tag of an untrained (seeded) architecture


def get_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda if available, else cpu; anything else is checked."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device} was requested but CUDA is not available; use 'cpu'")
    return device


def load_model(
    name: str = MODEL_NAME,
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
        preprocess = open_clip.image_transform(model.visual.image_size, is_train=False)
        return model.to(device).eval(), preprocess, tokenizer
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
        if not pretrained or random or Path(str(pretrained)).exists():
            raise
        hub = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
        raise RuntimeError(
            f"could not load open_clip weights ({name!r}, {pretrained!r}): they download on first use "
            f"into {cache_dir or hub} (or ~/.cache/clip for plain URLs). Offline, pass a weights file's "
            f"path (load_model({name!r}, '/path/to/weights.pt')), an open_clip folder (load_model("
            f"'local-dir:/path')), or use the embedded '{MODEL_NAME}', which needs no download."
        ) from err
    return model.eval(), preprocess, open_clip.get_tokenizer(name, cache_dir=cache_dir)
