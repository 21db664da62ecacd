"""Text encoding over the shortest context that holds the prompts, with a template's shared words encoded once:
CLIP's text transformer is causal and pools at the end-of-text token, so the columns after the longest EOT
can be dropped (`trim_tokens`) and the shared leading columns computed once (`shared_prefix`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock, text_global_pool


def trim_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """Drop trailing columns that are padding (0) in every row."""
    nonpad = (tokens != 0).any(0).nonzero()
    length = int(nonpad.max()) + 1 if len(nonpad) else 1
    return tokens[:, :length]


def _pool_index(model, tokens: torch.Tensor) -> torch.Tensor:
    """Each row's pooled column (its end-of-text token) for the 'argmax' and 'eos' pool types."""
    if model.text_pool_type == "eos":
        return (tokens == model.text_eos_id).int().argmax(-1)
    return tokens.argmax(-1)


def shared_prefix(model, tokens: torch.Tensor) -> int:
    """How many leading columns are the same in every row, before every pooled token (0: not applicable)."""
    if len(tokens) < 2 or not _supports_prefix(model):
        return 0
    same = (tokens == tokens[:1]).all(0).long().cumprod(0).sum()
    return int(min(int(same), int(_pool_index(model, tokens).min())))


def _supports_trim(model) -> bool:
    return (
        hasattr(model, "token_embedding")
        and hasattr(model, "positional_embedding")
        and getattr(model, "text_pool_type", "argmax") in ("argmax", "first", "eos")
        and getattr(model, "attn_mask", None) is not None
    )


def _supports_prefix(model) -> bool:
    blocks = getattr(getattr(model, "transformer", None), "resblocks", None)
    return (
        _supports_trim(model)
        and getattr(model, "text_pool_type", "argmax") in ("argmax", "eos")
        and getattr(model.transformer, "batch_first", True)
        and blocks is not None
        and all(
            type(b) is ResidualAttentionBlock
            and not hasattr(b, "ln_1_kv")
            and b.attn._qkv_same_embed_dim
            and b.attn.in_proj_bias is not None
            for b in blocks
        )
    )


def encode_text(
    model, tokens: torch.Tensor, normalize: bool = False, length: int | str | None = "auto"
) -> torch.Tensor:
    """`model.encode_text(tokens)` over a shorter context; `length`: "auto" (the longest prompt), an int (a
    fixed shape holding every EOT) or None (`model.encode_text` itself, also for other towers)."""
    if length is None or not _supports_trim(model):
        return model.encode_text(tokens, normalize=normalize)
    if length != "auto" and (tokens[:, int(length) :] != 0).any():
        raise ValueError(f"length={length} would cut prompts; use 'auto' or a larger value")
    tokens = trim_tokens(tokens) if length == "auto" else tokens[:, : int(length)]
    length = tokens.shape[1]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    p = shared_prefix(model, tokens)
    if p > 0:
        x = _transformer_shared_prefix(model, x, p)
        x = model.ln_final(x)
        x = x[torch.arange(len(tokens), device=x.device), _pool_index(model, tokens) - p]
    else:
        x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
        x = model.ln_final(x)
        x = text_global_pool(
            x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None)
        )
    proj = model.text_projection
    if proj is not None:
        x = proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj
    return F.normalize(x, dim=-1) if normalize else x


def _transformer_shared_prefix(model, x: torch.Tensor, p: int) -> torch.Tensor:
    """The text transformer on [N, L, w] inputs whose first `p` columns are shared (run once): the rows' own
    final hidden states, [N, L - p, w]."""
    n, length, width = x.shape
    rows = length - p
    # one matrix for the position-wise layers: the prefix's p rows, then every prompt's own columns
    h = torch.cat([x[0, :p], x[:, p:].reshape(n * rows, width)])
    allowed = torch.ones(rows, length, dtype=torch.bool, device=x.device).tril(p)
    for block in model.transformer.resblocks:
        h = h + block.ls_1(_split_attention(block.attn, block.ln_1(h), n, p, allowed))
        h = h + block.ls_2(block.mlp(block.ln_2(h)))
    return h[p:].view(n, rows, width)


def _split_attention(attn: torch.nn.MultiheadAttention, h, n: int, p: int, allowed):
    """`attn`'s self-attention (in_proj, heads, out_proj) for the prefix-shared layout of `h`."""
    heads, width = attn.num_heads, h.shape[-1]
    d = width // heads
    qkv = F.linear(h, attn.in_proj_weight, attn.in_proj_bias)
    pre = qkv[:p].view(1, p, 3, heads, d).permute(2, 0, 3, 1, 4)  # 3 x [1, H, p, d]
    own = qkv[p:].view(n, -1, 3, heads, d).permute(2, 0, 3, 1, 4)  # 3 x [N, H, L-p, d]
    out_pre = F.scaled_dot_product_attention(pre[0], pre[1], pre[2], is_causal=True)
    keys = torch.cat([pre[1].expand(n, -1, -1, -1), own[1]], 2)
    values = torch.cat([pre[2].expand(n, -1, -1, -1), own[2]], 2)
    out_own = F.scaled_dot_product_attention(own[0], keys, values, attn_mask=allowed)
    out = torch.cat(
        [out_pre.transpose(1, 2).reshape(p, width), out_own.transpose(1, 2).reshape(-1, width)]
    )
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)
