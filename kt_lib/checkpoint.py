"""Atomic, checksummed safetensors checkpoints, with an optional compact token-embedding table:
`compact_vocab=True` stores only the non-zero rows of `token_embedding.weight` (the tiny world's captions
use a few hundred of CLIP's 49,408 tokens; pretraining zeroes the others): ~30 MB -> a few MB, exactly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from kt_lib.cachefile import atomic_path

TOKEN_KEY = "token_embedding.weight"
# 2: metadata carries kt_format and kt_sha256 (a checksum of every tensor); 1: neither
CHECKPOINT_FORMAT = 2


class CheckpointError(ValueError):
    """A checkpoint that must not be loaded; the message names the file (and the tensor at fault)."""


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes (in name order)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(
    state: dict[str, torch.Tensor],
    path: str | Path,
    metadata: dict | None = None,
    compact_vocab: bool = False,
    hint: str = "choose a path on a writable disk with free space",
) -> Path:
    """Write `state` (a state_dict) to `path` atomically; a failed write raises `WriteError` ending with `hint`."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    meta = {"kt_metadata": json.dumps(metadata or {}), "kt_format": str(CHECKPOINT_FORMAT)}
    if compact_vocab and TOKEN_KEY in tensors:
        emb = tensors.pop(TOKEN_KEY)
        ids = torch.nonzero(emb.abs().sum(1) > 0).flatten()
        tensors["kt.token_ids"] = ids
        tensors["kt.token_rows"] = emb[ids].contiguous()
        meta["kt_vocab_shape"] = json.dumps(list(emb.shape))
    meta["kt_sha256"] = tensor_digest(tensors)
    with atomic_path(path, hint) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_checkpoint(
    path: str | Path, require_format: int = 1
) -> tuple[dict[str, torch.Tensor], dict]:
    """(state_dict, metadata) of a `save_checkpoint` file; `CheckpointError` for an unreadable file, a format
    outside [`require_format`, CHECKPOINT_FORMAT], a checksum mismatch or a NaN/inf tensor (named)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), "pt") as f:
            meta, tensors = f.metadata() or {}, {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"checkpoint {path} is unreadable or corrupt ({str(err).splitlines()[0][:120]}); "
            "delete it and write it again (`kt world --retrain` for the world model)"
        ) from err
    version = int(meta.get("kt_format", 1))
    if not require_format <= version <= CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path} has format {version}; this kt_lib reads {require_format} to {CHECKPOINT_FORMAT}"
        )
    if "kt_sha256" in meta and tensor_digest(tensors) != meta["kt_sha256"]:
        raise CheckpointError(f"checkpoint {path} fails its checksum (damaged bytes)")
    for name, t in tensors.items():
        bad = int((~torch.isfinite(t)).sum()) if t.is_floating_point() else 0
        if bad:
            raise CheckpointError(
                f"checkpoint {path}: tensor {name!r} holds {bad} NaN/inf values; refusing to load it"
            )
    if "kt.token_ids" in tensors:
        ids, rows = tensors.pop("kt.token_ids"), tensors.pop("kt.token_rows")
        emb = torch.zeros(json.loads(meta["kt_vocab_shape"]), dtype=rows.dtype)
        emb[ids] = rows
        tensors[TOKEN_KEY] = emb
    return tensors, json.loads(meta.get("kt_metadata", "{}"))


def load_into(model, state: dict[str, torch.Tensor], source: str | Path = "state") -> None:
    """`model.load_state_dict(state)`, but a missing, unexpected or mis-shaped tensor is refused with
    `CheckpointError` naming it (and nothing is loaded)."""
    expected = model.state_dict()
    shapes = [
        f"tensor {k!r} is {tuple(state[k].shape)} in the file, the model needs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    more = f" (and {len(shapes) - 1} more)" if len(shapes) > 1 else ""
    parts = [shapes[0] + more] if shapes else []
    for what, have, lack in (("missing", expected, state), ("unexpected", state, expected)):
        parts += (
            [f"{what} tensors {names[:3]}"] if (names := [k for k in have if k not in lack]) else []
        )
    if parts:
        raise CheckpointError(
            f"{source} does not fit this model: {'; '.join(parts)}; was it saved from another model?"
        )
    model.load_state_dict(state)
