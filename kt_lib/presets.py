"""One source of defaults: :data:`DEFAULTS` (the paper's NHL+KL setting), :func:`default_lr` (a model's rate
when ``lr=None``) and :func:`preset`; ``"paper"`` is the official training setup (``data/README.md``)."""

from __future__ import annotations

import difflib
import json
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: importing torch costs a cached `kt unlearn` rerun ~2.6 s CPU
    import torch

DEFAULTS = dict(
    margin=2.0, alpha_coarse=10.0, alpha_fine=20.0, beta=0.5, num_steps=48, batch_size=32
)
PRESETS = ("default", "paper")

# The official scripts' settings (lr for ViT-L/14); a method without its own line uses the dataset's base.
PAPER_SETUP: dict[str, dict] = {
    "imgnetdogs": dict(
        base=dict(batch_size=32, num_epochs=8, lr=1e-7, alpha_coarse=10.0, alpha_fine=20.0),
        methods=dict(
            nhl_kl=dict(lr=1e-7, alpha_coarse=10.0, alpha_fine=20.0, margin=2.0),
            npo_kl=dict(beta=0.5, alpha_coarse=5.0),
            ga_kl=dict(lr=8e-8, alpha_coarse=20.0),
            ga=dict(lr=8e-8),
            gdiff=dict(lr=8e-8),
            salun=dict(lr=2e-7, salun_fraction=0.1),
        ),
        source="Subsetdog_train.sh:49-51, 82-90 (official code, commit da10c9c)",
    ),
    "compcars": dict(
        base=dict(batch_size=16, num_epochs=6, lr=1e-7, alpha_coarse=10.0, alpha_fine=20.0),
        methods=dict(
            nhl_kl=dict(alpha_coarse=20.0),
            npo_kl=dict(beta=0.4, alpha_coarse=20.0, alpha_fine=5.0),
            ga_kl=dict(lr=8e-8, alpha_coarse=40.0),
            ga=dict(lr=8e-8),
            gdiff=dict(lr=8e-8),
            salun=dict(lr=2e-7, salun_fraction=0.1),
        ),
        source="Compcars_train.sh (batch, epochs, loss weights); its learning rates are not set "
        "per method there, so the ImgnetDogs rates are used",
    ),
}
# the training mechanics of the official trainer (trainer.py:46, 53, 154-172; Network.py:38-49, 82-122)
PAPER_MECHANICS = dict(
    optimizer="adamw",
    eps=1e-6,
    weight_decay=1e-5,
    schedule="cosine_epoch",
    template_set="openai80",
    reference="ensemble",
    select="min_forget_fine",
)


def model_width(model: str | torch.nn.Module) -> int | None:
    """The image tower's width of an open_clip ViT or model name (None for other towers)."""
    if isinstance(model, str):  # kt_lib's own configs (the world model's), else open_clip's
        import open_clip

        own = resources.files("kt_lib") / "model_configs" / f"{model}.json"
        config = json.loads(own.read_text()) if own.is_file() else open_clip.get_model_config(model)
        return (config or {}).get("vision_cfg", {}).get("width")
    return getattr(getattr(getattr(model, "visual", None), "transformer", None), "width", None)


def default_lr(model: str | torch.nn.Module) -> float:
    """The learning rate by image-tower width that forgets without collapsing NHL+KL at the default budget:
    the world model ~2000x ViT-L/14's 1e-7 (`benchmarks/random_requests.py`), ViT-B 1e-6 (ours)."""
    width = model_width(model)
    if width is None:
        what = repr(model) if isinstance(model, str) else f"a {type(model).__name__}"
        raise ValueError(
            f"cannot infer a learning rate for {what} (not an open_clip ViT); pass lr= explicitly"
        )
    return 2e-4 if width <= 256 else 1e-6 if width <= 768 else 1e-7


BUDGET = ("num_steps", "num_epochs")


def layer_settings(*layers: dict) -> dict:
    """Merge settings dicts, later over earlier; a layer's `num_steps` or `num_epochs` replaces both."""
    out: dict = {}
    for layer in layers:
        if any(layer.get(k) is not None for k in BUDGET):
            out = {k: v for k, v in out.items() if k not in BUDGET}
        out.update(layer)
    return out


def budget_label(settings: dict) -> str:
    """A run's budget in words: "48 steps" or "8 epochs" (from a config or a result row)."""
    steps = settings.get("num_steps")
    return f"{steps} steps" if steps is not None else f"{settings.get('num_epochs')} epochs"


def dataset_of(taxonomy_name: str | None) -> str:
    """The preset's dataset key for a taxonomy: dogworld (the embedded world), compcars, else imgnetdogs."""
    name = (taxonomy_name or "dogworld").lower()
    return name if name == "dogworld" else "compcars" if "car" in name else "imgnetdogs"


def preset(
    name: str, method: str, dataset: str = "dogworld", model_lr: float | None = None
) -> dict:
    """UnlearnConfig settings of preset ``name`` for ``method`` on ``dataset`` (on the embedded world the
    paper's rates scaled so that NHL+KL gets ``model_lr``)."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown preset {name!r}{hint}; use one of {', '.join(PRESETS)}")
    if name == "default":
        return dict(DEFAULTS, lr=None, preset="default")
    setup = PAPER_SETUP["imgnetdogs" if dataset == "dogworld" else dataset]
    out = layer_settings(DEFAULTS, setup["base"], setup["methods"].get(method, {}), PAPER_MECHANICS)
    if dataset == "dogworld":
        if model_lr is None:
            raise ValueError("the paper preset on the embedded world needs the world model's lr")
        out["lr"] = out["lr"] / PAPER_SETUP["imgnetdogs"]["methods"]["nhl_kl"]["lr"] * model_lr
    return dict(out, preset="paper")
