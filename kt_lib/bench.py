"""Speed benchmark of one NHL+KL unlearning step: official-style baseline vs the trainer's step.

`bench_step` times, in one process on one model and one batch, an **official-style baseline** step (fp32
with TF32 off, a frozen reference model forwarded every step, prompts over the full text context with
`model.encode_text`, plain non-fused Adam) against **the trainer's step** (`kt_lib.unlearn`'s pieces: bf16
autocast on CUDA, reference logits cached once, text over the trimmed context via `kt_lib.textenc`, fused
Adam, only the prompts' token-embedding rows trained), plus an ablation that adds one technique at a time.
On CUDA one more, experimental row replays the trainer's step as a whole-step CUDA graph
(`kt_lib.cudagraph`; not used by the trainer yet). All compute the same loss, `nhl_kl`, with both towers
trained. Weights are random (speed does not depend on them). FLOPs come from `FlopCounterMode` on one step
of each variant. On CPU the variants take turns step by step (other load on a shared machine then hits them
alike); on CUDA they run one after another (own peak memory). `bench_scaling` reports the trainer's step
at several batch sizes; `profile_step` tabulates where its time goes. Evaluation speed: `kt_lib.bench_eval`.
"""
from __future__ import annotations

import contextlib
import copy
import difflib
import statistics
import time
from dataclasses import dataclass

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from .cudagraph import GraphedStep
from .methods import LossConfig, LossInputs, compute_loss, loss_terms
from .models import get_device
from .unlearn import PromptBank, _compact_vocabulary, _logits, _optimizer, _set_trainable, default_lr, reference_logits
from .world import WorldTaxonomy
from .worldmodel import MODEL_NAME, create_world_model
from .timing import sync, timed, environment, no_tf32
from .zeroshot import TEMPLATES, autocast

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
GRAPHED = Variant("+whole-step CUDA graph (experimental, not in the trainer)", True, True, True, True, True, True)


@dataclass
class StepSetup:
    """Everything a step needs besides the trained model: one batch, prompts, the frozen reference."""
    images: torch.Tensor
    fine_labels: torch.Tensor
    coarse_labels: torch.Tensor
    fine_tokens: torch.Tensor      # full context (what model.encode_text gets)
    coarse_tokens: torch.Tensor
    bank: PromptBank               # the trainer's trimmed prompts (one template)
    reference: torch.nn.Module     # frozen copy of the original model
    ref_fine: torch.Tensor         # reference logits cached once by the trainer's reference_logits
    ref_coarse: torch.Tensor
    loss_cfg: LossConfig


def build_model(name: str, seed: int = 0):
    """(model, tokenizer) with random weights: the world model's architecture or any open_clip name."""
    if name == MODEL_NAME:
        return create_world_model(seed=seed)
    if name not in open_clip.list_models():
        close = difflib.get_close_matches(name, open_clip.list_models(), n=4, cutoff=0.5)
        raise ValueError(f"unknown model {name!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
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
    syl = ["ka", "lo", "mi", "ter", "van", "dor", "shi", "pel", "ru", "zen", "bra", "quo", "fel", "nix"]
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
    return StepSetup(images, yf.to(device), torch.tensor(f2c)[yf].to(device),
                     tokenizer([TEMPLATE.format(c) for c in fine]).to(device),
                     tokenizer([TEMPLATE.format(c) for c in coarse]).to(device),
                     bank, reference, ref_fine[0], ref_coarse[0], LossConfig())


def full_context_features(model, setup: StepSetup):
    """Normalised fine/coarse prompt features over the full context (`model.encode_text`)."""
    return (F.normalize(model.encode_text(setup.fine_tokens), dim=-1),
            F.normalize(model.encode_text(setup.coarse_tokens), dim=-1))


@torch.no_grad()
def fresh_reference_logits(setup: StepSetup):
    """The official-style reference: both towers of the frozen model forwarded, full-context text."""
    tf, tc = full_context_features(setup.reference, setup)
    return _logits(setup.reference, setup.images, tf, tc)


def step_loss(model, setup: StepSetup, variant: Variant) -> torch.Tensor:
    """The NHL+KL loss of one step of `variant` (both towers; no optimizer step). Like the trainer, the eager
    variants read the loss parts back as floats (one host sync); the graphed one must not sync."""
    device = setup.images.device
    with autocast(device, cache=not variant.cuda_graph) if variant.autocast else contextlib.nullcontext():
        tf, tc = setup.bank.features(model, 0) if variant.trimmed_text else full_context_features(model, setup)
        fine, coarse = _logits(model, setup.images, tf, tc)
        rf, rc = (setup.ref_fine, setup.ref_coarse) if variant.cached_reference else fresh_reference_logits(setup)
    inputs = LossInputs(fine.float(), coarse.float(), setup.fine_labels, setup.coarse_labels, rf.float(), rc.float())
    if variant.cuda_graph:
        return sum(loss_terms("nhl_kl", inputs, setup.loss_cfg).values())
    return compute_loss("nhl_kl", inputs, setup.loss_cfg)[0]


def make_optimizer(model, variant: Variant, lr: float, setup: StepSetup | None = None):
    """Both towers trainable (with `compact_vocab`, only the prompts' token-embedding rows, as the trainer
    does; needs `setup`); the trainer's fused Adam, a capturable fused Adam for a CUDA graph, or torch's
    default non-fused Adam."""
    params = _set_trainable(model, "both")
    if variant.compact_vocab and _compact_vocabulary(model, setup.bank) is not None:
        params = [p for p in model.parameters() if p.requires_grad]
    if variant.cuda_graph:
        return torch.optim.Adam(params, lr=lr, fused=True, capturable=True)
    return _optimizer(params, lr, setup.images.device if setup else None) if variant.fused_adam \
        else torch.optim.Adam(params, lr=lr)


def _apply(model, opt, loss: torch.Tensor) -> torch.Tensor:
    """Backward, optimizer step, then the trainer's logit-scale clamp (no zeroing: CUDA-graph friendly)."""
    loss.backward()
    opt.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0, float(np.log(100)))
    return loss


def train_step(model, opt, setup: StepSetup, variant: Variant) -> None:
    """One eager optimizer step of `variant`."""
    loss = step_loss(model, setup, variant)
    opt.zero_grad(set_to_none=True)
    _apply(model, opt, loss)


def _prepare(base, setup: StepSetup, variant: Variant, lr: float):
    """(a zero-argument step function on a fresh trainable copy of `base`, the FLOPs of one step). A CUDA
    graph is captured after one eager step (which the FLOPs are counted on) and 3 side-stream warm-ups."""
    model = copy.deepcopy(base).to(setup.images.device).train()
    opt = make_optimizer(model, variant, lr, setup)
    with FlopCounterMode(display=False) as counter:
        train_step(model, opt, setup, variant)
    if variant.cuda_graph:
        return GraphedStep(lambda: _apply(model, opt, step_loss(model, setup, variant)), opt), counter.get_total_flops()
    return (lambda: train_step(model, opt, setup, variant)), counter.get_total_flops()


def _row(variant: Variant, times: list[float], flops: int, peak: float | None, batch: int, cuda: bool) -> dict:
    med = statistics.median(times)
    return dict(name=variant.name, autocast=variant.autocast and cuda, cached_reference=variant.cached_reference,
                trimmed_text=variant.trimmed_text, fused_adam=variant.fused_adam,
                compact_vocab=variant.compact_vocab, cuda_graph=variant.cuda_graph,
                step_s=round(med, 5), step_min_s=round(min(times), 5), images_per_s=round(batch / med, 1),
                tflop_per_step=round(flops / 1e12, 4), achieved_tflops=round(flops / med / 1e12, 4),
                peak_memory_gb=peak)


def time_variants(base, setup: StepSetup, variants, lr: float, steps: int, warmup: int,
                  interleave: bool = False) -> list[dict]:
    """One report row per variant, each on a fresh copy of `base`. Sequential: one variant after the other,
    with its own CUDA peak memory. Interleaved: all copies alive, one step of each variant in turn (fairer
    on a shared, noisy CPU; no per-variant peak memory)."""
    device, batch = setup.images.device, len(setup.images)
    cuda = device.type == "cuda"
    if interleave:
        runs = [_prepare(base, setup, v, lr) for v in variants]
        times: list[list[float]] = [[] for _ in variants]
        for i in range(warmup + steps):
            for (step, _), t in zip(runs, times):
                dt = timed(step, device, 1)[0][0]
                if i >= warmup:
                    t.append(dt)
        return [_row(v, t, run[1], None, batch, cuda) for v, t, run in zip(variants, times, runs)]
    rows = []
    for v in variants:
        step, flops = _prepare(base, setup, v, lr)
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        times = timed(step, device, steps, warmup)[0]
        peak = round(torch.cuda.max_memory_allocated(device) / 1e9, 2) if cuda else None
        rows.append(_row(v, times, flops, peak, batch, cuda))
        del step
        if cuda:
            torch.cuda.empty_cache()
    return rows


def _graph_row(base, setup: StepSetup, lr: float, steps: int, warmup: int) -> dict:
    """The experimental whole-step CUDA graph row; a failure to capture becomes a row with the error."""
    try:
        return time_variants(base, setup, (GRAPHED,), lr, steps, warmup)[0]
    except Exception as err:  # noqa: BLE001 (report, do not lose the measured rows)
        torch.cuda.empty_cache()
        return dict(name=GRAPHED.name, cuda_graph=True, step_s=None, error=f"{type(err).__name__}: {err}")


def _setup_for(model_name: str, batch: int, device, seed: int):
    """(frozen model to copy from, StepSetup, lr, seconds to build the setup incl. the cached reference)."""
    base, tokenizer = build_model(model_name, seed)
    base = base.to(device)
    t0 = time.perf_counter()
    setup = make_setup(base, tokenizer, model_name, batch, device, seed)
    sync(device)
    return setup.reference, setup, default_lr(model_name), time.perf_counter() - t0  # one fewer model in memory


def bench_step(model_name: str = MODEL_NAME, batch: int = 32, device="auto", steps: int | None = None,
               warmup: int | None = None, seed: int = 0, ablation: bool = True, interleave: bool | None = None,
               experimental: bool = True) -> dict:
    """The step benchmark report (see the module docstring); `ratio` is baseline_s / ours_s (medians).
    `ablation=False` times only the baseline and ours (the `ablation` list then has those two rows);
    `interleave` (default: on CPU only) alternates variants step by step, see `time_variants`;
    `experimental` adds the whole-step CUDA graph row on CUDA (`graph_ratio` = baseline_s / its s/step)."""
    device = get_device(device)
    cuda = device.type == "cuda"
    steps = steps if steps is not None else (10 if cuda else 3)
    warmup = warmup if warmup is not None else (3 if cuda else 1)
    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    with no_tf32():
        base, setup, lr, cache_s = _setup_for(model_name, batch, device, seed)
        interleave = not cuda if interleave is None else interleave
        rows = time_variants(base, setup, ABLATION if ablation else (BASELINE, OURS), lr, steps, warmup, interleave)
        b, o = rows[0], rows[-1]
        extra = [_graph_row(base, setup, lr, steps, warmup)] if experimental and cuda else []
    for r in rows + extra:
        if r["step_s"]:
            r["speedup_vs_baseline"] = round(b["step_s"] / r["step_s"], 3)
        if not cuda and r["name"] == ABLATION[1].name:
            r["note"] = "autocast is not applied on CPU (the trainer stays fp32 there): same step as the row above"
    graph_s = extra[0]["step_s"] if extra else None
    return dict(benchmark="step", model=model_name, params_m=round(sum(p.numel() for p in base.parameters()) / 1e6, 1),
                batch=batch, n_fine=len(setup.fine_tokens), n_coarse=len(setup.coarse_tokens),
                text_context_full=setup.fine_tokens.shape[1],
                text_context_trimmed=setup.bank.joint[0].shape[1],
                steps=steps, warmup=warmup, interleaved=interleave, lr=lr, loss="nhl_kl", towers="both", tf32=False,
                baseline_s=b["step_s"], ours_s=o["step_s"], ratio=round(b["step_s"] / o["step_s"], 3),
                ratio_of_fastest_steps=round(b["step_min_s"] / o["step_min_s"], 3),
                graph_s=graph_s, graph_ratio=round(b["step_s"] / graph_s, 3) if graph_s else None,
                tflop_per_step=o["tflop_per_step"], baseline_tflop_per_step=b["tflop_per_step"],
                achieved_tflops=o["achieved_tflops"], baseline_achieved_tflops=b["achieved_tflops"],
                peak_memory_gb=o["peak_memory_gb"], baseline_peak_memory_gb=b["peak_memory_gb"],
                flop_count_method=FLOP_METHOD, reference_cache_s=round(cache_s, 4), ablation=rows + extra,
                **environment(device))


def bench_scaling(model_name: str = MODEL_NAME, batches=(32, 64, 128), device="auto", steps: int | None = None,
                  warmup: int | None = None, seed: int = 0) -> dict:
    """The trainer's step (`OURS`) alone at each batch size: s/step, images/s, TFLOP/s, peak memory."""
    device = get_device(device)
    cuda = device.type == "cuda"
    steps, warmup = steps or (10 if cuda else 3), warmup if warmup is not None else (3 if cuda else 1)
    if not batches or min(batches) < 1:
        raise ValueError(f"batch sizes must be positive, got {batches}")
    rows = []
    for batch in batches:
        base, setup, lr, _ = _setup_for(model_name, batch, device, seed)
        rows.append(dict(batch=batch, **time_variants(base, setup, (OURS,), lr, steps, warmup)[0]))
        del base, setup
        if cuda:
            torch.cuda.empty_cache()
    return dict(benchmark="scaling", model=model_name, variant=OURS.name, steps=steps, warmup=warmup, rows=rows,
                **environment(device))


def profile_step(model_name: str = MODEL_NAME, batch: int = 32, device="auto", steps: int = 5, seed: int = 0,
                 row_limit: int = 30) -> str:
    """torch.profiler's table of the trainer's step (`OURS`, after 2 warm-up steps), heaviest ops first."""
    from torch.profiler import ProfilerActivity, profile

    device = get_device(device)
    cuda = device.type == "cuda"
    base, setup, lr, _ = _setup_for(model_name, batch, device, seed)
    step, _ = _prepare(base, setup, OURS, lr)
    timed(step, device, 2)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        timed(step, device, steps)
    sort = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    env = environment(device)
    return (f"# profile of {steps} steps of '{OURS.name}', {model_name}, batch {batch}, on {env['device_name']} "
            f"({env['device']}), torch {env['torch']}, open_clip {env['open_clip']}, {env['date']}\n"
            + prof.key_averages().table(sort_by=sort, row_limit=row_limit))
