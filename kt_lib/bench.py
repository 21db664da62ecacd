"""Speed benchmarks: one NHL+KL unlearning step, and zero-shot evaluation throughput.

`bench_step` times, in one process on one model and one batch, an **official-style baseline** step (fp32
with TF32 off, a frozen reference model forwarded every step, prompts over the full text context with
`model.encode_text`, plain non-fused Adam) against **the trainer's step** (`kt_lib.unlearn`'s pieces: bf16
autocast on CUDA, reference logits cached once, text over the trimmed context via `kt_lib.textenc`, fused
Adam on CUDA), plus an ablation that adds one technique at a time. Both compute the same loss,
`compute_loss("nhl_kl", ...)`, with both towers trained. Weights are random (speed does not depend on them).
FLOPs come from `FlopCounterMode` on one step of each variant. On CPU the variants take turns step by step
(other load on a shared machine then hits them alike); on CUDA they run one after another (own peak memory).

`bench_eval` times zero-shot image encoding three ways on a generated folder of JPEGs: end to end (decode,
preprocess, encode), pure encode of preprocessed tensors already on the device, and the tensor-cache path
(`kt_lib.realdata.cached_tensors` hit, then encode).
"""
from __future__ import annotations

import contextlib
import copy
import datetime
import difflib
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from .methods import LossConfig, LossInputs, compute_loss
from .models import get_device
from .unlearn import PromptBank, _logits, _optimizer, _set_trainable, default_lr, reference_logits
from .world import WorldTaxonomy
from .worldmodel import MODEL_NAME, create_world_model
from .zeroshot import TEMPLATES, autocast, encode_images, model_device

FLOP_METHOD = "torch.utils.flop_counter.FlopCounterMode over one training step (forward + backward; optimizer not counted)"
TEMPLATE = TEMPLATES["photo"][0]


@dataclass(frozen=True)
class Variant:
    """One way to run the step; autocast and fused Adam only take effect on CUDA (the trainer's rule)."""
    name: str
    autocast: bool = False
    cached_reference: bool = False
    trimmed_text: bool = False
    fused_adam: bool = False


ABLATION = (
    Variant("baseline: fp32, reference forward, full-context text, plain Adam"),
    Variant("+autocast", True),
    Variant("+cached reference", True, True),
    Variant("+trimmed text", True, True, True),
    Variant("+fused Adam (= ours)", True, True, True, True),
)
BASELINE, OURS = ABLATION[0], ABLATION[-1]


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
    """The NHL+KL loss of one step of `variant` (both towers; no optimizer step)."""
    device = setup.images.device
    with autocast(device) if variant.autocast else contextlib.nullcontext():
        tf, tc = setup.bank.features(model, 0) if variant.trimmed_text else full_context_features(model, setup)
        fine, coarse = _logits(model, setup.images, tf, tc)
        rf, rc = (setup.ref_fine, setup.ref_coarse) if variant.cached_reference else fresh_reference_logits(setup)
    inputs = LossInputs(fine.float(), coarse.float(), setup.fine_labels, setup.coarse_labels, rf.float(), rc.float())
    return compute_loss("nhl_kl", inputs, setup.loss_cfg)[0]


def make_optimizer(model, variant: Variant, lr: float):
    """Both towers trainable; the trainer's optimizer (fused on CUDA) or torch's default, non-fused Adam."""
    params = _set_trainable(model, "both")
    return _optimizer(params, lr, model_device(model)) if variant.fused_adam else torch.optim.Adam(params, lr=lr)


def train_step(model, opt, setup: StepSetup, variant: Variant) -> None:
    """One optimizer step of `variant`, then the trainer's logit-scale clamp."""
    loss = step_loss(model, setup, variant)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0, np.log(100))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def no_tf32():
    """True fp32 matmuls/convolutions on CUDA (restored afterwards)."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _prepare(base, setup: StepSetup, variant: Variant, lr: float):
    """(fresh trainable copy of `base`, its optimizer, FLOPs of one step counted on it)."""
    model = copy.deepcopy(base).to(setup.images.device).train()
    opt = make_optimizer(model, variant, lr)
    with FlopCounterMode(display=False) as counter:
        train_step(model, opt, setup, variant)
    return model, opt, counter.get_total_flops()


def _row(variant: Variant, times: list[float], flops: int, peak: float | None, batch: int, cuda: bool) -> dict:
    med = statistics.median(times)
    return dict(name=variant.name, autocast=variant.autocast and cuda, cached_reference=variant.cached_reference,
                trimmed_text=variant.trimmed_text, fused_adam=variant.fused_adam and cuda,
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
            for (model, opt, _), v, t in zip(runs, variants, times):
                dt = _timed(lambda: train_step(model, opt, setup, v), device, 1)[0][0]  # noqa: B023 (called now)
                if i >= warmup:
                    t.append(dt)
        return [_row(v, t, run[2], None, batch, cuda) for v, t, run in zip(variants, times, runs)]
    rows = []
    for v in variants:
        model, opt, flops = _prepare(base, setup, v, lr)
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        times = _timed(lambda: train_step(model, opt, setup, v), device, steps, warmup)[0]
        peak = round(torch.cuda.max_memory_allocated(device) / 1e9, 2) if cuda else None
        rows.append(_row(v, times, flops, peak, batch, cuda))
        del model, opt
        if cuda:
            torch.cuda.empty_cache()
    return rows


def _timed(fn, device: torch.device, repeats: int, warmup: int = 0):
    """(wall seconds of each of `repeats` calls after `warmup` untimed calls, the last call's result)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times, out


def _cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict:
    """Device, versions, thread count and UTC date for a report."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return dict(device=device.type, device_name=name, torch=torch.__version__, open_clip=open_clip.__version__,
                python=platform.python_version(), cpu_threads=torch.get_num_threads(),
                load_average_1m=round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
                date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def bench_step(model_name: str = MODEL_NAME, batch: int = 32, device="auto", steps: int | None = None,
               warmup: int | None = None, seed: int = 0, ablation: bool = True, interleave: bool | None = None) -> dict:
    """The step benchmark report (see the module docstring); `ratio` is baseline_s / ours_s (medians).
    `ablation=False` times only the baseline and ours (the `ablation` list then has those two rows);
    `interleave` (default: on CPU only) alternates variants step by step, see `time_variants`."""
    device = get_device(device)
    steps = steps if steps is not None else (10 if device.type == "cuda" else 3)
    warmup = warmup if warmup is not None else (3 if device.type == "cuda" else 1)
    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    base, tokenizer = build_model(model_name, seed)
    base, lr = base.to(device), default_lr(model_name)
    with no_tf32():
        t0 = time.perf_counter()
        setup = make_setup(base, tokenizer, model_name, batch, device, seed)
        base = setup.reference  # copies are made from the frozen reference: one fewer model in memory
        _sync(device)
        cache_s = time.perf_counter() - t0
        interleave = device.type != "cuda" if interleave is None else interleave
        rows = time_variants(base, setup, ABLATION if ablation else (BASELINE, OURS), lr, steps, warmup, interleave)
    for r in rows:
        r["speedup_vs_baseline"] = round(rows[0]["step_s"] / r["step_s"], 3)
        if device.type != "cuda" and r["name"] in (ABLATION[1].name, OURS.name):
            r["note"] = "autocast / fused Adam not applied on CPU (the trainer stays fp32 with plain Adam there)"
    b, o = rows[0], rows[-1]
    return dict(benchmark="step", model=model_name, params_m=round(sum(p.numel() for p in base.parameters()) / 1e6, 1),
                batch=batch, n_fine=len(setup.fine_tokens), n_coarse=len(setup.coarse_tokens),
                text_context_full=setup.fine_tokens.shape[1],
                text_context_trimmed=max(setup.bank.fine[0].shape[1], setup.bank.coarse[0].shape[1]),
                steps=steps, warmup=warmup, interleaved=interleave, lr=lr, loss="nhl_kl", towers="both", tf32=False,
                baseline_s=b["step_s"], ours_s=o["step_s"], ratio=round(b["step_s"] / o["step_s"], 3),
                ratio_of_fastest_steps=round(b["step_min_s"] / o["step_min_s"], 3),
                tflop_per_step=o["tflop_per_step"], baseline_tflop_per_step=b["tflop_per_step"],
                achieved_tflops=o["achieved_tflops"], baseline_achieved_tflops=b["achieved_tflops"],
                peak_memory_gb=o["peak_memory_gb"], baseline_peak_memory_gb=b["peak_memory_gb"],
                flop_count_method=FLOP_METHOD, reference_cache_s=round(cache_s, 4), ablation=rows,
                **environment(device))


class JpegFolder(torch.utils.data.Dataset):
    """`(transform(RGB image), 0)` per file; without a transform, the decoded PIL image itself."""

    def __init__(self, files: list[Path], transform=None):
        self.files, self.transform = list(files), transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        with Image.open(self.files[i]) as im:
            img = im.convert("RGB")
        return (self.transform(img) if self.transform else img), 0


def write_jpegs(folder: Path, n: int, size: int, seed: int = 0) -> list[Path]:
    """`n` smooth random RGB JPEGs of `size` x `size` pixels (quality 90) in `folder`."""
    rng, files = np.random.default_rng(seed), [folder / f"img{i:05d}.jpg" for i in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        small = rng.integers(0, 256, (max(2, size // 8), max(2, size // 8), 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(f, quality=90)
    return files


def eval_transform(model):
    """The model's own eval preprocessing (mean/std, resize mode from its preprocess_cfg)."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    cfg = getattr(model.visual, "preprocess_cfg", None) or {"size": image_size(model)}
    return image_transform_v2(PreprocessCfg(**cfg), is_train=False)


def bench_eval(model_name: str = MODEL_NAME, n_images: int | None = None, device="auto", batch: int = 256,
               jpeg_size: int | None = None, repeats: int = 3, workers: int = 0, seed: int = 0) -> dict:
    """Images/s of zero-shot encoding: end to end from JPEG, pure encode, and the tensor-cache path."""
    device = get_device(device)
    n_images = n_images or (2048 if device.type == "cuda" else 256)
    if n_images < 1 or batch < 1 or repeats < 1:
        raise ValueError("n_images, batch and repeats must be positive")
    from .realdata import cached_tensors

    model = build_model(model_name, seed)[0].to(device).eval()
    size, preprocess = image_size(model), eval_transform(model)
    jpeg_size = jpeg_size or 2 * size

    with tempfile.TemporaryDirectory(prefix="kt-bench-eval-") as tmp:
        files = write_jpegs(Path(tmp) / "jpegs", n_images, jpeg_size, seed)
        loader = torch.utils.data.DataLoader(JpegFolder(files, preprocess), batch_size=batch, num_workers=workers)
        from_cache = lambda: cached_tensors(JpegFolder(files), "bench-jpegs", preprocess, cache_dir=tmp)  # noqa: E731
        t0 = time.perf_counter()
        on_device = from_cache()["images"].to(device)  # builds the cache (decode + preprocess + save)
        build_s = time.perf_counter() - t0
        paths = dict(end_to_end=lambda: torch.cat([encode_images(model, x, batch) for x, _ in loader]),
                     encode=lambda: encode_images(model, on_device, batch),
                     cache=lambda: encode_images(model, from_cache()["images"], batch))
        paths["encode"]()  # warm-up (kernels, allocator)
        times, feats = {k: [] for k in paths}, {}
        for _ in range(repeats):  # the paths take turns, so that other load hits them alike
            for k, fn in paths.items():
                dt, out = _timed(fn, device, 1)
                times[k] += dt
                feats[k] = out.float().cpu()
    ips = {k: round(n_images / statistics.median(t), 1) for k, t in times.items()}
    diff = max(float((feats[k] - feats["encode"]).abs().max()) for k in ("end_to_end", "cache"))
    return dict(benchmark="eval", model=model_name, n_images=n_images, batch=batch, jpeg_size=jpeg_size,
                input_size=size, repeats=repeats, workers=workers,
                end_to_end_images_per_s=ips["end_to_end"], encode_images_per_s=ips["encode"],
                cache_images_per_s=ips["cache"], ratio_cache_over_encode=round(ips["cache"] / ips["encode"], 3),
                ratio_end_to_end_over_encode=round(ips["end_to_end"] / ips["encode"], 3),
                cache_build_s=round(build_s, 3), max_abs_feature_diff=diff,
                autocast="bf16" if device.type == "cuda" else "none (fp32)", **environment(device))
