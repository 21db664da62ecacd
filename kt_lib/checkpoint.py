"""Atomic safetensors checkpoints, with an optional compact token-embedding table.

The tiny world model uses a few hundred of CLIP's 49,408 BPE tokens. `save_checkpoint(...,
compact_vocab=True)` stores only the rows of `token_embedding.weight` that are non-zero (pretraining
zeroes the rows no caption ever used), which shrinks the file from ~30 MB to a few MB and round-trips
exactly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

TOKEN_KEY = "token_embedding.weight"


def save_checkpoint(
    state: dict[str, torch.Tensor],
    path: str | Path,
    metadata: dict | None = None,
    compact_vocab: bool = False,
) -> Path:
    """Write `state` (a state_dict) to `path` atomically: a temp file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    meta = {"kt_metadata": json.dumps(metadata or {})}
    if compact_vocab and TOKEN_KEY in tensors:
        emb = tensors.pop(TOKEN_KEY)
        ids = torch.nonzero(emb.abs().sum(1) > 0).flatten()
        tensors["kt.token_ids"] = ids
        tensors["kt.token_rows"] = emb[ids].contiguous()
        meta["kt_vocab_shape"] = json.dumps(list(emb.shape))
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by `save_checkpoint`: (state_dict, metadata)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        tensors = load_file(str(path))
        with open(path, "rb") as f:  # safetensors header: 8-byte length, then JSON
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(
            f"checkpoint {path} is unreadable or corrupt ({err}); delete it and retrain "
            f"(`kt world --retrain`)"
        ) from err
    meta = header.get("__metadata__", {})
    if "kt.token_ids" in tensors:
        ids, rows = tensors.pop("kt.token_ids"), tensors.pop("kt.token_rows")
        emb = torch.zeros(json.loads(meta["kt_vocab_shape"]), dtype=rows.dtype)
        emb[ids] = rows
        tensors[TOKEN_KEY] = emb
    return tensors, json.loads(meta.get("kt_metadata", "{}"))
