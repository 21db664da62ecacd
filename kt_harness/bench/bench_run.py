"""Speed benchmark of a whole unlearning run (training + evaluation): official-style baseline vs the engine.

`bench_run` times, in one process on the embedded world model, one request (default: forget "Samoyed",
NHL+KL, 48 steps at batch 32) three ways, interleaved run by run: **ours**, what a notebook runs
(`Experiment(forget).run(method)`) with `scope="all"` and with `scope="in_domain"`, each from
a fresh run cache and an evaluator holding only the original model's predictions (as a first run of a
setting; 'before' is computed once per Experiment, outside the runs), and **the official-style baseline**
(`official_run`). Reported: seconds per run (median of `repeats`) split into training, its setup and
evaluation; `ratio` = baseline_s / ours_s (scope all) and `ratio_in_domain`; GFLOP per run from
`FlopCounterMode` over one untimed run of each (also the warm-up) and GFLOP/s; each side's first and last
loss and Q/U, so a reader sees that both trained the same thing.
"""

from __future__ import annotations

import statistics
import time
import warnings

from torch.utils.flop_counter import FlopCounterMode

from kt_harness.bench.official_run import CLASSES_PER_BATCH, EVAL_BATCH, check_method, run_baseline
from kt_harness.bench.timing import environment, no_tf32, sync
from kt_lib.cache import RunCache
from kt_lib.experiment import Experiment
from kt_lib.integrity import RunIntegrityWarning
from kt_lib.models import get_device
from kt_lib.presets import default_lr
from kt_lib.textenc import trim_tokens
from kt_lib.world.model import MODEL_NAME

DEFAULT_FORGET = ("Samoyed",)
FLOP_METHOD = (
    "torch.utils.flop_counter.FlopCounterMode over one untimed run of each variant: training forward + "
    "backward and evaluation (matrix products, convolutions, attention; optimizer and elementwise ops not counted)"
)
VARIANTS = (
    ("ours", "ours, scope all (Q, U, OOD, zero-shot)"),
    ("ours_in_domain", "ours, scope in_domain (Q, U)"),
    ("baseline", "official-style baseline (scope all)"),
)

PREFIXES = (("ours", ""), ("ours_in_domain", "ours_in_domain_"), ("baseline", "baseline_"))


class TimedExperiment(Experiment):
    """`Experiment` with a stopwatch on `_unlearn` (the training loop and its setup, what `run` trains
    through), so that a run's wall time splits into training and evaluation. Nothing else differs."""

    unlearn_s = 0.0

    def _unlearn(self, *args, **kwargs):
        t0 = time.perf_counter()
        result = super()._unlearn(*args, **kwargs)
        sync(next(self.model.parameters()).device)
        self.unlearn_s = time.perf_counter() - t0
        return result


def run_ours(exp: TimedExperiment, method: str, scope: str, overrides: dict) -> dict:
    """One timed engine run from a fresh run cache and an evaluator holding only the original model's
    predictions (so the run trains and encodes every test image of its scope)."""
    exp.cache = RunCache()
    for key in [k for k in exp.evaluator._cache if k != exp.fingerprint]:
        del exp.evaluator._cache[key]
    t0 = time.perf_counter()
    row = exp.run(method, scope=scope, **overrides)
    sync(next(exp.model.parameters()).device)
    total = time.perf_counter() - t0
    if len(exp.evaluator._cache) != 2 or exp.fingerprint not in exp.evaluator._cache:
        raise RuntimeError("the timed run did not evaluate a new model beside the original one")
    result = exp.result(row)  # the model it just trained
    return dict(
        total_s=total,
        train_s=result.seconds,
        setup_s=exp.unlearn_s - result.seconds,
        eval_s=total - exp.unlearn_s,
        method=result.info["config"]["method"],
        losses=[float(x) for x in result.history["loss"]],
        scores={k: row.get(k) for k in ("Q", "U", "QU")},
    )


def _flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _row(name: str, label: str, runs: list[dict], flops: int) -> dict:
    med = statistics.median(r["total_s"] for r in runs)
    last = runs[-1]
    return dict(
        name=name,
        label=label,
        run_s=round(med, 4),
        run_min_s=round(min(r["total_s"] for r in runs), 4),
        times=[round(r["total_s"], 4) for r in runs],
        **{
            k: round(statistics.median(r[k] for r in runs), 4)
            for k in ("train_s", "setup_s", "eval_s")
        },
        gflop_per_run=round(flops / 1e9, 2),
        achieved_gflops=round(flops / med / 1e9, 2),
        method=last["method"],
        loss_first=last["losses"][0],
        loss_last=last["losses"][-1],
        steps=len(last["losses"]),
        **last["scores"],
    )


def bench_run(
    forget=DEFAULT_FORGET,
    method: str = "nhl_kl",
    device="auto",
    repeats: int = 3,
    num_steps: int | None = None,
    seed: int = 0,
    eval_per_class: int | None = None,
    eval_batch: int = EVAL_BATCH,
) -> dict:
    """The run benchmark report (see the module docstring): one row per variant under `variants`, and
    `ratio` = baseline_s / ours_s, `ratio_in_domain` = baseline_s / ours_in_domain_s (medians)."""
    if repeats < 1 or (num_steps is not None and num_steps < 1):
        raise ValueError(
            f"need repeats >= 1 and steps >= 1, got repeats={repeats}, steps={num_steps}"
        )
    check_method(method)  # before anything loads
    device = get_device(device)
    overrides = dict(seed=seed, **({} if num_steps is None else {"num_steps": num_steps}))
    forget = [forget] if isinstance(forget, str) else list(forget)
    with no_tf32(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RunIntegrityWarning)  # short test runs forget little
        exp = TimedExperiment(forget, device=device, eval_per_class=eval_per_class, cache=None)
        exp.before  # noqa: B018 (the original model's accuracies: once per Experiment, not part of a run)
        calls = dict(
            ours=lambda: run_ours(exp, method, "all", overrides),
            ours_in_domain=lambda: run_ours(exp, method, "in_domain", overrides),
            baseline=lambda: run_baseline(exp, method, overrides, eval_batch),
        )
        flops = {name: _flops(fn) for name, fn in calls.items()}  # untimed; also the warm-up
        runs = {name: [] for name in calls}
        for _ in range(repeats):
            for name, fn in calls.items():
                runs[name].append(fn())
    rows = {name: _row(name, label, runs[name], flops[name]) for name, label in VARIANTS}
    ours, ind, base = rows["ours"], rows["ours_in_domain"], rows["baseline"]
    cfg = exp.config(method, **overrides)
    tokens = exp.tokenizer([t.format(c) for t in cfg.templates[:1] for c in exp.data.fine_names])
    return dict(
        benchmark="run",
        model=MODEL_NAME,
        forget=list(exp.forget),
        method=cfg.method,
        num_steps=base["steps"],
        batch_size=cfg.batch_size,
        forget_images=len(exp.forget_set),
        lr=cfg.lr or default_lr(exp.model),
        test_images={
            **{n: len(d.images) for n, d in exp.evaluator.domains.items()},
            **{f"family:{n}": len(f.images) for n, f in exp.evaluator.families.items()},
        },
        text_context_full=tokens.shape[1],
        text_context_trimmed=trim_tokens(tokens).shape[1],
        classes_per_batch=CLASSES_PER_BATCH,
        eval_batch=eval_batch,
        repeats=repeats,
        interleaved=True,
        tf32=False,
        baseline_s=base["run_s"],
        ours_s=ours["run_s"],
        ours_in_domain_s=ind["run_s"],
        ratio=round(base["run_s"] / ours["run_s"], 3),
        ratio_in_domain=round(base["run_s"] / ind["run_s"], 3),
        **{p + k: rows[n][k] for k in ("gflop_per_run", "achieved_gflops") for n, p in PREFIXES},
        flop_count_method=FLOP_METHOD,
        variants=[ours, ind, base],
        **environment(device),
    )


def format_report(r: dict) -> str:
    """The printed table of a `bench_run` report."""
    lines = [
        f"kt bench run: {r['model']} on {r['device']} ({r['device_name']}), torch {r['torch']}, "
        f"open_clip {r['open_clip']}, {r['cpu_threads']} threads, load {r['load_average_1m']}, {r['date']}",
        f"  forget {', '.join(r['forget'])} ({r['forget_images']} images), {r['method']}, {r['num_steps']} steps "
        f"at batch {r['batch_size']}; test images "
        + ", ".join(f"{k} {v}" for k, v in r["test_images"].items()),
        f"  text context {r['text_context_full']} tokens (baseline) vs {r['text_context_trimmed']} (ours, "
        f"trimmed); median of {r['repeats']} runs, variants interleaved run by run",
        f"  {'variant':42s} {'run s':>7s} {'train s':>8s} {'setup s':>8s} {'eval s':>7s} {'GFLOP':>8s} "
        f"{'GFLOP/s':>8s} {'loss 1st':>9s} {'last':>8s} {'Q':>5s} {'U':>5s}",
    ]
    for v in r["variants"]:
        q, u = (f"{v[k]:5.2f}" if v[k] is not None else "    -" for k in ("Q", "U"))
        lines.append(
            f"  {v['label']:42s} {v['run_s']:7.3f} {v['train_s']:8.3f} {v['setup_s']:8.3f} "
            f"{v['eval_s']:7.3f} {v['gflop_per_run']:8.1f} {v['achieved_gflops']:8.1f} "
            f"{v['loss_first']:9.4f} {v['loss_last']:8.4f} {q} {u}"
        )
    lines.append(
        f"  baseline / ours: {r['ratio']:.2f}x (scope all), {r['ratio_in_domain']:.2f}x (scope in_domain); "
        "GFLOP: FlopCounterMode over one untimed run of each"
    )
    return "\n".join(lines)
