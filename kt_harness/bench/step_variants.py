"""The step variants that `kt bench step` times: one model, one batch, one NHL+KL step built with or
without each of the trainer's techniques (autocast, cached reference, trimmed text, fused Adam, compact
vocabulary, whole-step CUDA graph). `kt_harness.bench.bench` times them; `kt_harness.bench.bench_run` runs the baseline
step in a loop for a whole official-style run."""

from __future__ import annotations

import contextlib
import copy
import difflib
from dataclasses import dataclass

import numpy as np
import open_clip
import torch
import torch.nn.functional as F

from kt_lib.methods import (
    LossConfig,
    LossInputs,
    WithReference,
    compute_loss,
    get_method,
    loss_terms,
)
from kt_lib.prompts import PromptBank, clip_logits, reference_logits
from kt_lib.step import set_trainable, unlearn_step
from kt_lib.unlearn import UnlearnConfig, optimizer_and_schedule
from kt_lib.vocab import compact_vocabulary
from kt_lib.world.config import WorldTaxonomy
from kt_lib.world.model import MODEL_NAME, create_world_model
from kt_lib.zeroshot import TEMPLATES, autocast

FLOP_METHOD = "torch.utils.flop_counter.FlopCounterMode over one training step (forward + backward; optimizer not counted)"
TEMPLATE = TEMPLATES["photo"][0]


@dataclass(frozen=True)
class Variant:
    """One way to run the step. Autocast applies on CUDA only (the trainer's rule: CPU stays fp32)."""

    name: str
    autocast: bool = False
    cached_reference: bool = False
    trimmed_text: bool = False
    fused_adam: bool = False
    compact_vocab: bool = False
    cuda_graph: bool = False  # experimental, CUDA only


ABLATION = (
    Variant("baseline: fp32, reference forward, full-context text, plain Adam"),
    Variant("+autocast", True),
    Variant("+cached reference", True, True),
    Variant("+trimmed text", True, True, True),
    Variant("+fused Adam", True, True, True, True),
    Variant("+compact vocabulary (= ours, the trainer's step)", True, True, True, True, True),
)
BASELINE, OURS = ABLATION[0], ABLATION[-1]
GRAPHED = Variant(
    "+whole-step CUDA graph (experimental, not in the trainer)", True, True, True, True, True, True
)


@dataclass
class StepSetup:
    """Everything a step needs besides the trained model: one batch, prompts, the frozen reference, the
    method (a loss method of `kt_lib.methods`) and, for relabel, each image's random other label."""

    images: torch.Tensor
    fine_labels: torch.Tensor
    coarse_labels: torch.Tensor
    fine_tokens: torch.Tensor  # full context (what model.encode_text gets)
    coarse_tokens: torch.Tensor
    bank: PromptBank  # the trainer's trimmed prompts (one template)
    reference: torch.nn.Module  # frozen copy of the original model
    ref_fine: torch.Tensor  # reference logits cached once by the trainer's reference_logits
    ref_coarse: torch.Tensor
    loss_cfg: LossConfig
    method: str = "nhl_kl"
    other_labels: torch.Tensor | None = None


def build_model(name: str, seed: int = 0):
    """(model, tokenizer) with random weights: the world model's architecture or any open_clip name."""
    if name == MODEL_NAME:
        return create_world_model(seed=seed)
    if name not in open_clip.list_models():
        close = difflib.get_close_matches(name, open_clip.list_models(), n=4, cutoff=0.5)
        raise ValueError(
            f"unknown model {name!r}" + (f"; did you mean {', '.join(close)}?" if close else "")
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(name, pretrained=None)
    return model, open_clip.get_tokenizer(name)


def class_names(model_name: str, n_fine: int = 98, n_coarse: int = 14, seed: int = 0):
    """(fine names, coarse names, fine->coarse): the world's breeds/groups for the world model, else
    pronounceable random names (token lengths like real class names)."""
    if model_name == MODEL_NAME:
        tax = WorldTaxonomy()
        return tax.fine, tax.coarse, tax.fine_to_coarse
    rng = np.random.default_rng(seed)
    syl = "ka lo mi ter van dor shi pel ru zen bra quo fel nix".split()
    word = lambda: "".join(rng.choice(syl, size=rng.integers(2, 4)))  # noqa: E731
    fine = [" ".join(word() for _ in range(rng.integers(1, 3))) for _ in range(n_fine)]
    return fine, [word() for _ in range(n_coarse)], [i % n_coarse for i in range(n_fine)]


def image_size(model) -> int:
    """The model's square input resolution."""
    size = getattr(model.visual, "image_size", 224)
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def make_setup(model, tokenizer, model_name: str, batch: int, device, seed: int = 0) -> StepSetup:
    """A random batch of `batch` images with labels, the prompts, the frozen reference and its cached logits."""
    if batch <= 0:
        raise ValueError(f"batch must be positive, got {batch}")
    fine, coarse, f2c = class_names(model_name, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    s = image_size(model)
    images = torch.randn(batch, 3, s, s, generator=gen).to(device)
    yf = torch.randint(0, len(fine), (batch,), generator=gen)
    reference = copy.deepcopy(model).to(device).eval().requires_grad_(False)
    bank = PromptBank(tokenizer, fine, coarse, (TEMPLATE,), device)
    ref_fine, ref_coarse = reference_logits(reference, images, bank)
    return StepSetup(
        images,
        yf.to(device),
        torch.tensor(f2c)[yf].to(device),
        tokenizer([TEMPLATE.format(c) for c in fine]).to(device),
        tokenizer([TEMPLATE.format(c) for c in coarse]).to(device),
        bank,
        reference,
        ref_fine[0],
        ref_coarse[0],
        LossConfig(),
    )


def full_context_features(model, setup: StepSetup):
    """Normalised fine/coarse prompt features over the full context (`model.encode_text`)."""
    return (
        F.normalize(model.encode_text(setup.fine_tokens), dim=-1),
        F.normalize(model.encode_text(setup.coarse_tokens), dim=-1),
    )


@torch.no_grad()
def fresh_reference_logits(setup: StepSetup):
    """The official-style reference: both towers of the frozen model forwarded, full-context text
    ((None, None) for a method that needs no reference)."""
    if not isinstance(get_method(setup.method), WithReference):
        return None, None
    tf, tc = full_context_features(setup.reference, setup)
    return clip_logits(setup.reference, setup.images, tf, tc)


def step_loss(model, setup: StepSetup, variant: Variant) -> torch.Tensor:
    """The loss of `setup.method` (NHL+KL by default) in one step of `variant` (both towers; no optimizer
    step). Like the trainer, the eager variants read the loss parts back as floats (one host sync); the
    graphed one must not sync."""
    device = setup.images.device
    with (
        autocast(device, cache=not variant.cuda_graph)
        if variant.autocast
        else contextlib.nullcontext()
    ):
        tf, tc = (
            setup.bank.features(model, 0)
            if variant.trimmed_text
            else full_context_features(model, setup)
        )
        fine, coarse = clip_logits(model, setup.images, tf, tc)
        rf, rc = (
            (setup.ref_fine, setup.ref_coarse)
            if variant.cached_reference
            else fresh_reference_logits(setup)
        )
    ref = tuple(None if r is None else r.float() for r in (rf, rc))
    inputs = LossInputs(
        fine.float(),
        coarse.float(),
        setup.fine_labels,
        setup.coarse_labels,
        *ref,
        setup.other_labels,
    )
    if variant.cuda_graph:
        return sum(loss_terms(setup.method, inputs, setup.loss_cfg).values())
    return compute_loss(setup.method, inputs, setup.loss_cfg)[0]


def make_optimizer(model, variant: Variant, lr: float, setup: StepSetup | None = None):
    """Both towers trainable (with `compact_vocab`, only the prompts' token-embedding rows, as the trainer
    does; needs `setup`); the trainer's fused Adam, a capturable fused Adam for a CUDA graph, or torch's
    default non-fused Adam."""
    params = set_trainable(model, "both")
    if variant.compact_vocab and compact_vocabulary(model, setup.bank) is not None:
        params = [p for p in model.parameters() if p.requires_grad]
    if variant.cuda_graph:
        return torch.optim.Adam(params, lr=lr, fused=True, capturable=True)
    if variant.fused_adam:  # the trainer's own optimiser
        return optimizer_and_schedule(params, UnlearnConfig(lr=lr), total_steps=1)[0]
    return torch.optim.Adam(params, lr=lr)


def _apply(model, opt, loss: torch.Tensor) -> torch.Tensor:
    """Backward, optimizer step, then the trainer's logit-scale clamp (no zeroing: CUDA-graph friendly)."""
    loss.backward()
    opt.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0, float(np.log(100)))
    return loss


def train_step(model, opt, setup: StepSetup, variant: Variant) -> float:
    """One eager optimizer step of `variant`; "ours" is the trainer's own `unlearn_step`. Returns the loss as
    a float (ours: the value the trainer reads back anyway; the others: read after the optimizer step)."""
    if variant == OURS:
        return unlearn_step(
            model,
            opt,
            setup.images,
            setup.fine_labels,
            setup.coarse_labels,
            lambda m: setup.bank.features(m, 0),
            method=setup.method,
            loss_cfg=setup.loss_cfg,
            reference=(setup.ref_fine, setup.ref_coarse),
            other_labels=setup.other_labels,
        )["loss"]
    loss = step_loss(model, setup, variant)
    opt.zero_grad(set_to_none=True)
    return float(_apply(model, opt, loss).detach())
