"""Concept inversion (issue 30; Pham et al., ICLR 2024, on CLIP): without changing a weight of the model, learn
one new token embedding from k images of a concept (`invert_concept`) and read the concept's test images
with it (`inverted_accuracy`). What a token can reach, an unlearned model still holds.
"""

from __future__ import annotations

import copy

import torch

from kt_lib.textenc import encode_text
from kt_lib.zeroshot import TEMPLATES, accuracy, encode_images, model_device, predict, text_head

PLACEHOLDER = "sks"  # a word no pretraining caption uses: its token row is the one inversion learns


def _placeholder_id(tokenizer) -> int:
    return int(tokenizer([PLACEHOLDER])[0][1])  # after <start_of_text>: one BPE token


def invert_concept(
    model, tokenizer, images, breed: str, names, steps: int = 100, lr: float = 0.01, templates=None
):
    """A copy of `model` whose only change is the placeholder token's embedding row, learned by Adam over
    `steps` steps so that `images` (the k images of `breed`) read as "a photo of a sks." among every other
    name's prompt (cross-entropy at the model's logit scale). Every other weight is frozen: the row starts at
    zero (an empty word) and Adam steps it alone (the other rows' gradients are zero, so they would not move)."""
    templates = templates or TEMPLATES["photo"]
    names = list(names)
    model = copy.deepcopy(model).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    device, row = model_device(model), _placeholder_id(tokenizer)
    emb = model.token_embedding.weight
    emb.data[row] = 0
    emb.requires_grad_(True)
    feats = encode_images(model, images)
    i = names.index(breed)
    target = torch.full((len(images),), i, device=device)
    # [dim, names]: the breed's column replaced
    others = text_head(model, tokenizer, names, templates)
    tokens = tokenizer([t.format(PLACEHOLDER) for t in templates]).to(device)
    vector = emb.data[row].clone().requires_grad_(True)  # Adam's state for the one row, not 49,408
    opt = torch.optim.Adam([vector], lr=lr)
    for _ in range(steps):
        text = encode_text(model, tokens, True).float().mean(0)
        own = torch.nn.functional.normalize(text, dim=-1)
        head = torch.cat([others[:, :i], own[:, None], others[:, i + 1 :]], 1)
        loss = torch.nn.functional.cross_entropy(model.logit_scale.exp() * feats @ head, target)
        emb.grad = None
        loss.backward()
        vector.grad = emb.grad[row]
        opt.step()
        emb.data[row] = vector.data
    emb.requires_grad_(False)
    return model


@torch.no_grad()
def inverted_accuracy(model, tokenizer, images, breed: str, names, templates=None) -> float:
    """Zero-shot accuracy of `images` (all `breed`) among every name's prompt with the breed's prompt
    written with the placeholder token instead of its name."""
    templates = templates or TEMPLATES["photo"]
    names = list(names)
    i = names.index(breed)
    head = text_head(model, tokenizer, [*names[:i], PLACEHOLDER, *names[i + 1 :]], templates)
    target = torch.full((len(images),), i)
    return accuracy(predict(encode_images(model, images), head), target)
