"""The quantization attack (issue 30; Zhang et al., ICLR 2025, on CLIP): `fake_quantize` rounds every weight of
two or more dimensions (`quantized_weights`: the attention in-projections, `visual.proj`, `text_projection`,
the embeddings and conv1 included, which CPU quantization tools skip) to int8 per output row or to 4 bits in
groups along the input, symmetric round-to-nearest, and gives back a float model to evaluate as any other.
"""

from __future__ import annotations

import copy

import torch

# bare Parameters applied as x @ W ([in, out]): their output is a column, their input a row
RIGHT_MULTIPLIED = ("visual.proj", "text_projection")


def quantize_weight(w: torch.Tensor, bits: int, group_size: int | None = None) -> torch.Tensor:
    """Symmetric round-to-nearest fake quantization of a [out, in] matrix: the scale is max|w| / (2^(bits-1)
    - 1) per output row (`group_size` None) or per group of `group_size` inputs (the last group may be
    shorter), values rounded and clamped to [-2^(bits-1), 2^(bits-1) - 1], then scaled back."""
    if w.dim() != 2:
        raise ValueError(f"quantize_weight takes a [out, in] matrix, got shape {tuple(w.shape)}")
    qmax = 2 ** (bits - 1) - 1
    out, n = w.shape
    g = n if group_size is None else group_size
    pad = (-n) % g
    x = torch.nn.functional.pad(w.float(), (0, pad)).view(out, -1, g)
    scale = x.abs().amax(-1, keepdim=True) / qmax
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero group stays zero
    q = torch.clamp(torch.round(x / scale), -qmax - 1, qmax) * scale
    return q.view(out, -1)[:, :n].to(w.dtype)


def quantized_weights(model) -> list[str]:
    """The parameters `fake_quantize` rounds: every floating weight of two or more dimensions."""
    return [n for n, p in model.named_parameters() if p.dim() >= 2 and p.is_floating_point()]


@torch.no_grad()
def fake_quantize(model, bits: int, group_size: int | None = None):
    """A copy of `model` with every `quantized_weights` entry fake-quantized (`quantize_weight`): rows are
    outputs for nn.Linear, attention in_proj, conv (flattened over in x kh x kw) and embeddings (one token or
    position per row); `visual.proj` and `text_projection` ([in, out]) are transposed first."""
    out = copy.deepcopy(model)
    for name, p in out.named_parameters():
        if p.dim() < 2 or not p.is_floating_point():
            continue
        w = p.data.T if name in RIGHT_MULTIPLIED else p.data.reshape(p.shape[0], -1)
        q = quantize_weight(w, bits, group_size)
        p.data.copy_((q.T if name in RIGHT_MULTIPLIED else q).reshape(p.shape))
    return out.eval()
