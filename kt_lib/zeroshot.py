"""Zero-shot heads (prompt-template ensembles: open_clip's `build_zero_shot_classifier` over the shortest
exact text context; bf16 on CUDA) and zero-shot accuracy."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

from kt_lib.textenc import encode_text

TEMPLATES: dict[str, tuple[str, ...]] = {
    "photo": ("a photo of a {}.", "a picture of a {}.", "an image of a {}."),
    "drawing": ("a drawing of a {}.", "a sketch of a {}."),
}
# openai80: OpenAI's 80 ImageNet prompt templates (as open_clip ships them), the paper's training and eval set
TEMPLATE_SETS = {**TEMPLATES, "openai80": tuple(t("{}") for t in OPENAI_IMAGENET_TEMPLATES)}


def template_set(name: str) -> tuple[str, ...]:
    """A named template set: photo (3), drawing (2) or openai80 (the paper's 80)."""
    if name not in TEMPLATE_SETS:
        raise ValueError(f"unknown template set {name!r}; use one of {', '.join(TEMPLATE_SETS)}")
    return TEMPLATE_SETS[name]


# paraphrases never used in pretraining: a probe of whether knowledge survives rewording
PARAPHRASES = ("a close-up photo of a {}.", "a photo of the {}.", "a good photo of a {}.")


def autocast(device: torch.device | str, cache: bool = True):
    """bf16 autocast on CUDA, nothing on CPU (CPU stays fp32: exact and, on most CPUs, faster).
    `cache=False` is required inside CUDA-graph capture (no cached bf16 weight copies)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=cache)
    return contextlib.nullcontext()


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def text_head(model, tokenizer, classnames, templates=TEMPLATES["photo"]) -> torch.Tensor:
    """[embed_dim, n_classes] normalised class embeddings averaged over `templates` (one `encode_text` each)."""
    device = model_device(model)
    with autocast(device):
        per_template = [
            encode_text(model, tokenizer([t.format(c) for c in classnames]).to(device), True)
            for t in templates
        ]
    return F.normalize(torch.stack(per_template).float().mean(0), dim=-1).T


@torch.no_grad()
def encode_images(model, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Normalised image features for a float tensor of preprocessed images."""
    device = model_device(model)
    feats = []
    with autocast(device):
        for i in range(0, len(images), batch_size):
            feats.append(model.encode_image(images[i : i + batch_size].to(device)).float())
    return F.normalize(torch.cat(feats), dim=-1) if feats else torch.empty(0)


def predict(features: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
    return (features @ head.to(features.device)).argmax(-1).cpu()


def accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    if len(labels) == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return (pred == labels.cpu()).float().mean().item()
