"""Speed benchmark of one NHL+KL unlearning step: official-style baseline vs the trainer's step.

`bench_step` times, in one process on one model and one batch, the variants of `step_variants` (the
official-style BASELINE, one technique added at a time, OURS = the trainer's step; on CUDA also the
experimental whole-step CUDA graph of `cudagraph`), all computing `nhl_kl` with both towers trained on random
weights; FLOPs come from `FlopCounterMode` on one step of each. `bench_scaling` reports the trainer's step at
several batch sizes; `profile_step` tabulates where its time goes. Evaluation speed: `bench_eval`.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import asdict

import torch
from torch.utils.flop_counter import FlopCounterMode

from kt_harness.bench.cudagraph import GraphedStep
from kt_harness.bench.step_variants import (
    ABLATION,
    BASELINE,
    FLOP_METHOD,
    GRAPHED,
    OURS,
    StepSetup,
    Variant,
    _apply,
    build_model,
    make_optimizer,
    make_setup,
    step_loss,
    train_step,
)
from kt_harness.bench.timing import environment, no_tf32, sync, timed
from kt_lib.models import get_device
from kt_lib.unlearn import default_lr
from kt_lib.world.model import MODEL_NAME


def _prepare(base, setup: StepSetup, variant: Variant, lr: float):
    """(a zero-argument step function on a fresh trainable copy of `base`, the FLOPs of one step). A CUDA
    graph is captured after one eager step (which the FLOPs are counted on) and 3 side-stream warm-ups."""
    model = copy.deepcopy(base).to(setup.images.device).train()
    opt = make_optimizer(model, variant, lr, setup)
    with FlopCounterMode(display=False) as counter:
        train_step(model, opt, setup, variant)
    flops = counter.get_total_flops()
    if variant.cuda_graph:
        return GraphedStep(lambda: _apply(model, opt, step_loss(model, setup, variant)), opt), flops
    return (lambda: train_step(model, opt, setup, variant)), flops


def _row(
    variant: Variant, times: list[float], flops: int, peak: float | None, batch: int, cuda: bool
) -> dict:
    med = statistics.median(times)
    return dict(
        asdict(variant),  # name and techniques; autocast applies on CUDA only
        autocast=variant.autocast and cuda,
        step_s=round(med, 5),
        step_min_s=round(min(times), 5),
        images_per_s=round(batch / med, 1),
        tflop_per_step=round(flops / 1e12, 4),
        achieved_tflops=round(flops / med / 1e12, 4),
        peak_memory_gb=peak,
    )


def time_variants(
    base, setup: StepSetup, variants, lr: float, steps: int, warmup: int, interleave: bool = False
) -> list[dict]:
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
        return dict(
            name=GRAPHED.name, cuda_graph=True, step_s=None, error=f"{type(err).__name__}: {err}"
        )


def _setup_for(model_name: str, batch: int, device, seed: int):
    """(frozen model to copy from, StepSetup, lr, seconds to build the setup incl. the cached reference)."""
    base, tokenizer = build_model(model_name, seed)
    base = base.to(device)
    t0 = time.perf_counter()
    setup = make_setup(base, tokenizer, model_name, batch, device, seed)
    sync(device)  # the reference serves as the base: one fewer model in memory
    return setup.reference, setup, default_lr(model_name), time.perf_counter() - t0


def bench_step(
    model_name: str = MODEL_NAME,
    batch: int = 32,
    device="auto",
    steps: int | None = None,
    warmup: int | None = None,
    seed: int = 0,
    ablation: bool = True,
    interleave: bool | None = None,
    experimental: bool = True,
) -> dict:
    """The step benchmark report (see the module docstring); `ratio` = baseline_s / ours_s (medians).
    `ablation=False`: only those two rows; `interleave`: see `time_variants` (default: on CPU);
    `experimental`: the CUDA graph row on CUDA (`graph_ratio` = baseline_s / its s/step)."""
    device = get_device(device)
    cuda = device.type == "cuda"
    steps = steps if steps is not None else (10 if cuda else 3)
    warmup = warmup if warmup is not None else (3 if cuda else 1)
    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    with no_tf32():
        base, setup, lr, cache_s = _setup_for(model_name, batch, device, seed)
        interleave = not cuda if interleave is None else interleave
        rows = time_variants(
            base, setup, ABLATION if ablation else (BASELINE, OURS), lr, steps, warmup, interleave
        )
        b, o = rows[0], rows[-1]
        extra = [_graph_row(base, setup, lr, steps, warmup)] if experimental and cuda else []
    for r in rows + extra:
        if r["step_s"]:
            r["speedup_vs_baseline"] = round(b["step_s"] / r["step_s"], 3)
        if not cuda and r["name"] == ABLATION[1].name:
            r["note"] = (
                "autocast is not applied on CPU (the trainer stays fp32 there): same step as the row above"
            )
    graph_s = extra[0]["step_s"] if extra else None
    return dict(
        benchmark="step",
        model=model_name,
        params_m=round(sum(p.numel() for p in base.parameters()) / 1e6, 1),
        batch=batch,
        n_fine=len(setup.fine_tokens),
        n_coarse=len(setup.coarse_tokens),
        text_context_full=setup.fine_tokens.shape[1],
        text_context_trimmed=setup.bank.joint[0].shape[1],
        steps=steps,
        warmup=warmup,
        interleaved=interleave,
        lr=lr,
        loss="nhl_kl",
        towers="both",
        tf32=False,
        baseline_s=b["step_s"],
        ours_s=o["step_s"],
        ratio=round(b["step_s"] / o["step_s"], 3),
        ratio_of_fastest_steps=round(b["step_min_s"] / o["step_min_s"], 3),
        graph_s=graph_s,
        graph_ratio=round(b["step_s"] / graph_s, 3) if graph_s else None,
        **{
            f"{pre}{k}": r[k]
            for k in ("tflop_per_step", "achieved_tflops", "peak_memory_gb")
            for pre, r in (("", o), ("baseline_", b))
        },
        flop_count_method=FLOP_METHOD,
        reference_cache_s=round(cache_s, 4),
        ablation=rows + extra,
        **environment(device),
    )


def bench_scaling(
    model_name: str = MODEL_NAME,
    batches=(32, 64, 128),
    device="auto",
    steps: int | None = None,
    warmup: int | None = None,
    seed: int = 0,
) -> dict:
    """The trainer's step (`OURS`) alone at each batch size: s/step, images/s, TFLOP/s, peak memory."""
    device = get_device(device)
    cuda = device.type == "cuda"
    steps, warmup = steps or (10 if cuda else 3), (3 if cuda else 1) if warmup is None else warmup
    if not batches or min(batches) < 1:
        raise ValueError(f"batch sizes must be positive, got {batches}")
    rows = []
    for batch in batches:
        base, setup, lr, _ = _setup_for(model_name, batch, device, seed)
        rows.append(dict(batch=batch, **time_variants(base, setup, (OURS,), lr, steps, warmup)[0]))
        del base, setup
        if cuda:
            torch.cuda.empty_cache()
    return dict(
        benchmark="scaling",
        model=model_name,
        variant=OURS.name,
        steps=steps,
        warmup=warmup,
        rows=rows,
        **environment(device),
    )


def profile_step(
    model_name: str = MODEL_NAME,
    batch: int = 32,
    device="auto",
    steps: int = 5,
    seed: int = 0,
    row_limit: int = 30,
) -> str:
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
    return (
        f"# profile of {steps} steps of '{OURS.name}', {model_name}, batch {batch}, on {env['device_name']} "
        f"({env['device']}), torch {env['torch']}, open_clip {env['open_clip']}, {env['date']}\n"
        + prof.key_averages().table(sort_by=sort, row_limit=row_limit)
    )
