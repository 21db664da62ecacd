"""Text encoding over the shortest context that holds the prompts.

CLIP's text transformer is causal and pools at the end-of-text token, so columns after the longest
prompt's EOT never influence the result: dropping them is exact (up to float summation order), and a
77-token context becomes ~11-20 tokens for class prompts. Falls back to `model.encode_text` for
towers this does not recognise (e.g. Hugging Face text towers).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.transformer import text_global_pool


def trim_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """Drop trailing columns that are padding (0) in every row."""
    nonpad = (tokens != 0).any(0).nonzero()
    length = int(nonpad.max()) + 1 if len(nonpad) else 1
    return tokens[:, :length]


def _supports_trim(model) -> bool:
    return (
        hasattr(model, "token_embedding")
        and hasattr(model, "positional_embedding")
        and getattr(model, "text_pool_type", "argmax") in ("argmax", "first", "eos")
        and getattr(model, "attn_mask", None) is not None
    )


def encode_text(
    model, tokens: torch.Tensor, normalize: bool = False, length: int | str | None = "auto"
) -> torch.Tensor:
    """`model.encode_text(tokens)`, computed over a shorter context when that is exact.

    `length="auto"` trims to the longest prompt of this batch; an int keeps exactly that many columns
    (a fixed shape across batches, which CPU kernels like; it must hold every prompt's EOT);
    None always uses the full context.
    """
    if length is None or not _supports_trim(model):
        return model.encode_text(tokens, normalize=normalize)
    if length == "auto":
        tokens = trim_tokens(tokens)
    else:
        if (tokens[:, int(length) :] != 0).any():
            raise ValueError(
                f"length={length} would cut prompts; use length='auto' or a larger value"
            )
        tokens = tokens[:, : int(length)]
    length = tokens.shape[1]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(
        x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None)
    )
    if model.text_projection is not None:
        x = (
            model.text_projection(x)
            if isinstance(model.text_projection, torch.nn.Linear)
            else x @ model.text_projection
        )
    return F.normalize(x, dim=-1) if normalize else x
