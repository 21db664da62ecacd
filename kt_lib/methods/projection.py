"""The training-free method `projection` (after Mishra et al., "Erasing CLIP Memories", arXiv 2512.14137):
with B an orthonormal basis of the directions to erase, the image tower's projection `P <- P (I - s B B^T)`
removes every image feature's component along B; no images, no gradients; the text tower is untouched.

Which directions: the paper erases span(E), E the forgotten concepts' zero-shot heads, which also erases
what a breed shares with its siblings and group; E's part orthogonal to the retained heads K keeps every
retained cosine but, on the world model, erases nothing. `ridge` interpolates, B spanning
`E - K (K^T K + ridge I)^-1 K^T E`: 0 the exact keep, None the paper's projection, larger erases more
(`tests/test_projection.py` measures the default 1.0 against the plain projection).
"""

from __future__ import annotations

import copy

import torch

from kt_lib.methods.base import Method, register
from kt_lib.zeroshot import text_head

__all__ = ["RIDGE", "Projection", "erase_directions", "project_out"]
RIDGE = 1.0  # the default: see the module docstring
RANK_TOL = 1e-3  # singular values below this (unit-norm columns) are noise, not a direction


@torch.no_grad()
def erase_directions(
    model, tokenizer, fine_names, coarse_names, forget_ids, templates, ridge: float | None = RIDGE
) -> tuple[torch.Tensor, dict]:
    """B [embed_dim, r], the orthonormal directions to erase, and info: `rank` (r) and `residual`, the mean
    norm of the forgotten heads' part the retained heads do not explain (near 0: nothing to erase alone)."""
    if ridge is not None and ridge < 0:
        raise ValueError(f"ridge must be >= 0 or None (the plain projection), got {ridge}")
    forget_ids = sorted({int(i) for i in forget_ids})
    if not forget_ids:
        raise ValueError("projection needs at least one concept to forget")
    templates = tuple(templates)
    e = text_head(model, tokenizer, [fine_names[i] for i in forget_ids], templates).double()
    retained = [n for i, n in enumerate(fine_names) if i not in forget_ids] + list(coarse_names)
    k = text_head(model, tokenizer, retained, templates).double()
    exact = e - k @ torch.linalg.lstsq(k, e).solution
    info = dict(ridge=ridge, residual=float(exact.norm(dim=0).mean()))
    if ridge == 0:
        e = exact
    elif ridge is not None:
        gram = k.T @ k + ridge * torch.eye(k.shape[1], dtype=k.dtype)
        e = e - k @ torch.linalg.solve(gram, k.T @ e)
    u, s, _ = torch.linalg.svd(e, full_matrices=False)  # an orthonormal basis of span(e)
    b = u[:, s > RANK_TOL].float()
    return b, dict(info, rank=b.shape[1])


@torch.no_grad()
def project_out(
    model, tokenizer, fine_names, coarse_names, forget_ids, templates, ridge=RIDGE, strength=1.0
) -> tuple[torch.nn.Module, dict]:
    """A copy of `model` whose image projection is `P (I - strength B B^T)`, strength in (0, 1], and the info
    of :func:`erase_directions`."""
    if not 0 < strength <= 1:
        raise ValueError(f"strength must lie in (0, 1], got {strength}")
    proj = getattr(getattr(model, "visual", None), "proj", None)
    if not isinstance(proj, torch.Tensor) or proj.ndim != 2:
        raise ValueError(
            "projection edits the image tower's output projection `model.visual.proj` (an open_clip "
            f"VisionTransformer); this {type(getattr(model, 'visual', model)).__name__} has none"
        )
    model.eval()
    names = (fine_names, coarse_names)
    b, info = erase_directions(model, tokenizer, *names, forget_ids, templates, ridge)
    out = copy.deepcopy(model)
    b = b.to(proj.device, torch.float32)
    eye = torch.eye(b.shape[0], device=proj.device)
    out.visual.proj.copy_((proj.float() @ (eye - strength * b @ b.T)).to(proj.dtype))
    return out.eval(), dict(info, strength=strength)


@register
class Projection(Method):
    """No loss and no training: ``prepare`` edits the copy in closed form and sets the budget to 0 epochs."""

    name = "projection"
    description = (
        "training-free: project the forgotten names' text directions out of the image projection"
    )
    settings = ("ridge",)

    def loss(self, x, cfg):
        raise ValueError(
            "method 'projection' has no loss: it is a closed-form edit of the image projection "
            "(kt_lib.methods.projection.project_out), applied without training"
        )

    def prepare(self, run):
        cfg = run.cfg
        if cfg.goal != "fine" or cfg.towers == "text":
            raise ValueError(
                "method 'projection' forgets fine concepts by editing the image tower: it needs "
                f"goal='fine' and towers 'both' or 'image', got goal={cfg.goal!r}, towers={cfg.towers!r}"
            )
        ids = sorted(set(run.fine_labels.long().tolist()))
        names = (run.fine_names, run.coarse_names)
        run.model, run.info["projection"] = project_out(
            run.model, run.tokenizer, *names, ids, cfg.templates, cfg.ridge
        )
        run.epochs = 0
