"""The training-free method `projection`: erase concepts by projecting their text directions out of the image
tower's final projection (after Mishra et al., "Erasing CLIP Memories", arXiv 2512.14137; re-implemented
from the paper's description, not from its code).

CLIP scores an image against a class by the cosine of the image feature `pool @ P` (`P = model.visual.proj`,
`[width, embed_dim]`) and the class's text embedding. Let E hold the forgotten concepts' zero-shot heads
(normalised text embeddings averaged over the run's templates, one column per concept) and B an orthonormal
basis of the directions to erase. `P <- P (I - s B B^T)` makes every image feature lose its component along
B: the forgotten classes' cosines fall, with no images, no gradients and no training (milliseconds).

**Which directions.** The paper erases span(E) itself. In a hierarchy that also removes what the forgotten
breed shares with its siblings and its group (a German short-haired pointer's text embedding lies close to
"pointer" and to the other pointers'), which costs the retained classes their accuracy. The cure we tried
first, erasing only the part of E orthogonal to the zero-shot heads K of every retained class (the other
breeds and all groups), leaves each retained class's cosine with every image exactly unchanged up to one
per-image factor, but on the world model it erases nothing: the 66 retained heads explain the forgotten
breeds' heads up to a residual of about 2% of their norm (the tiny CLIP's text space is nearly
low-rank), so Q stays near 0. `ridge` interpolates: E's retained part is removed by ridge regression on K,
`E - K (K^T K + ridge I)^-1 K^T E`, and B is the basis of what is left. `ridge=0` is the exact keep,
`ridge=None` the paper's plain projection; a larger ridge removes less of E's retained part, so it erases
more and keeps less, towards the plain projection. A run sets it as `UnlearnConfig.ridge` (a float >= 0;
`kt unlearn --ridge`, a sweep's `ridge`). With the default 1.0, four requests on the world model
(2026-12-04, 2-core CPU, 20 test images per breed) forgot with Q 0.78-1.00 and kept U 0.75-0.90, where the
plain projection had Q 1.00 and U 0.41-0.69 (`tests/test_projection.py` checks the direction of this).

The text tower is left untouched, as in the paper: acting on the text side would only rename the concept
for every prompt, whereas the image side is where the image-feature probes (linear probe, relearning
attack) then look for what is left.
"""

from __future__ import annotations

import copy

import torch

from kt_lib.methods.base import Method, register
from kt_lib.zeroshot import text_head

__all__ = ["RIDGE", "Projection", "erase_directions", "project_out"]
RIDGE = 1.0  # the default: see the module docstring
RANK_TOL = (
    1e-3  # singular values below this (unit-norm columns) are numerical noise, not a direction
)


def _basis(columns: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis [d, r] of span(columns) (SVD; directions with singular value <= RANK_TOL dropped)."""
    u, s, _ = torch.linalg.svd(columns.double(), full_matrices=False)
    return u[:, s > RANK_TOL].float()


@torch.no_grad()
def erase_directions(
    model,
    tokenizer,
    fine_names: list[str],
    coarse_names: list[str],
    forget_ids: list[int],
    templates,
    ridge: float | None = RIDGE,
) -> tuple[torch.Tensor, dict]:
    """B [embed_dim, r], the orthonormal directions to erase, and what was measured on the way: `rank` (r)
    and `residual`, the mean norm of the forgotten heads' part that the retained heads do not explain
    (exact least squares; near 0: nothing can be erased without touching a retained class)."""
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
    b = _basis(e)
    info["rank"] = b.shape[1]
    return b, info


@torch.no_grad()
def project_out(
    model,
    tokenizer,
    fine_names: list[str],
    coarse_names: list[str],
    forget_ids: list[int],
    templates,
    ridge: float | None = RIDGE,
    strength: float = 1.0,
) -> tuple[torch.nn.Module, dict]:
    """A copy of `model` whose image projection is `P (I - strength B B^T)` (see the module docstring), and
    the info of :func:`erase_directions`. `strength` in (0, 1]: 1 erases B completely, less only partly."""
    if not 0 < strength <= 1:
        raise ValueError(f"strength must lie in (0, 1], got {strength}")
    proj = getattr(getattr(model, "visual", None), "proj", None)
    if not isinstance(proj, torch.Tensor) or proj.ndim != 2:
        raise ValueError(
            "projection edits the image tower's output projection `model.visual.proj` (an open_clip "
            f"VisionTransformer); this {type(getattr(model, 'visual', model)).__name__} has none"
        )
    model.eval()
    b, info = erase_directions(
        model, tokenizer, fine_names, coarse_names, forget_ids, templates, ridge
    )
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
        run.model, run.info["projection"] = project_out(
            run.model,
            run.tokenizer,
            run.fine_names,
            run.coarse_names,
            ids,
            cfg.templates,
            cfg.ridge,
        )
        run.epochs = 0
