"""`kt bench step|scaling|profile|eval|run`: speed of one unlearning step, of zero-shot evaluation and of a
whole unlearning run.

Both print a side-by-side table and can write the full report as JSON (`kt_harness.bench.bench` documents the keys).
Random weights, no download: `--model` is the world model's architecture or any `open_clip.list_models()` name.
`kt bench run` runs the real engine on the embedded world model (`kt_harness.bench.bench_run`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _common(p, seed: bool = True, report: bool = True, model: bool = True) -> None:
    """The options every bench subcommand shares."""
    if model:
        p.add_argument(
            "--model",
            default="kt-tiny-dogworld",
            help="world model or open_clip name, e.g. ViT-L-14",
        )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    if seed:
        p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)"
    )
    if report:
        p.add_argument("--json", help="write the report to this JSON file")


def register(sub) -> None:
    """Add `bench` with its `step`, `scaling`, `profile`, `eval` and `run` subcommands to the `kt` parser's
    subparsers."""
    bench = sub.add_parser(
        "bench", help="time an unlearning step or run (baseline vs ours) or zero-shot evaluation"
    )
    which = bench.add_subparsers(
        dest="bench_command", required=True, metavar="{step,eval,scaling,profile,run}"
    )

    step = which.add_parser(
        "step", help="official-style baseline step vs the trainer's step, with an ablation"
    )
    _common(step)
    step.add_argument("--batch", type=int, default=32, help="images per step (default 32)")
    step.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per variant (default 10 on CUDA, 3 on CPU)",
    )
    step.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed steps per variant (default 3 on CUDA, 1 on CPU)",
    )
    step.add_argument("--no-ablation", action="store_true", help="time only the baseline and ours")
    step.add_argument(
        "--no-experimental",
        action="store_true",
        help="skip the experimental whole-step CUDA graph row (CUDA only)",
    )
    step.add_argument(
        "--interleave",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="alternate the variants step by step (default: on CPU, where other load adds noise; "
        "sequential on CUDA, which gives each variant's peak memory)",
    )
    step.set_defaults(func=run_step)

    sc = which.add_parser("scaling", help="the trainer's step alone at several batch sizes")
    _common(sc)
    sc.add_argument(
        "--batches",
        type=int,
        nargs="+",
        default=[32, 64, 128],
        help="batch sizes (default 32 64 128)",
    )
    sc.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per batch size (default 10 on CUDA, 3 on CPU)",
    )
    sc.add_argument(
        "--warmup", type=int, default=None, help="untimed steps (default 3 on CUDA, 1 on CPU)"
    )
    sc.set_defaults(func=run_scaling)

    pr = which.add_parser(
        "profile", help="torch.profiler table of the trainer's step, heaviest ops first"
    )
    _common(pr, seed=False, report=False)
    pr.add_argument("--batch", type=int, default=32)
    pr.add_argument("--steps", type=int, default=5, help="profiled steps (after 2 warm-up steps)")
    pr.add_argument("--rows", type=int, default=30, help="table rows")
    pr.add_argument("--out", help="also write the table to this text file")
    pr.set_defaults(func=run_profile)

    ev = which.add_parser(
        "eval", help="zero-shot encoding: JPEG end to end vs preprocessed tensors vs the cache"
    )
    _common(ev)
    ev.add_argument(
        "--images",
        type=int,
        default=None,
        help="generated JPEGs (default 2048 on CUDA, 256 on CPU)",
    )
    ev.add_argument("--batch", type=int, default=256, help="encoding batch size (default 256)")
    ev.add_argument(
        "--jpeg-size",
        type=int,
        default=None,
        help="JPEG side in pixels (default 2x the input size)",
    )
    ev.add_argument(
        "--repeats", type=int, default=3, help="timed passes per path; the median is reported"
    )
    ev.add_argument(
        "--workers", type=int, default=0, help="DataLoader workers for the end-to-end path"
    )
    ev.set_defaults(func=run_eval)

    run = which.add_parser(
        "run", help="a full unlearning run (training + evaluation): official-style baseline vs ours"
    )
    _common(run, model=False)
    run.add_argument("--forget", nargs="+", default=["Samoyed"], help="concepts (default Samoyed)")
    run.add_argument("--method", default="nhl_kl", help="a loss method (default nhl_kl)")
    run.add_argument("--steps", type=int, default=None, help="budget (default: the preset's 48)")
    run.add_argument(
        "--repeats", type=int, default=3, help="timed runs each; the median is reported"
    )
    run.add_argument("--eval-per-class", type=int, default=None, help="test images per breed")
    run.set_defaults(func=run_run)


def _write(path: str | None, report: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {path}")


def _threads(n: int | None) -> None:
    if n is not None:
        if n < 1:
            raise ValueError(f"--threads must be >= 1, got {n}")
        import torch

        torch.set_num_threads(n)


def _header(r: dict) -> str:
    return (
        f"{r['model']} on {r['device']} ({r['device_name']}), torch {r['torch']}, open_clip {r['open_clip']}, "
        f"{r['date']}"
    )


def run_step(args) -> int:
    from kt_harness.bench.bench import bench_step

    _threads(args.threads)
    r = bench_step(
        args.model,
        args.batch,
        args.device,
        args.steps,
        args.warmup,
        args.seed,
        ablation=not args.no_ablation,
        interleave=args.interleave,
        experimental=not args.no_experimental,
    )
    print(f"kt bench step: {_header(r)}")
    print(
        f"  batch {r['batch']}, {r['n_fine']} fine + {r['n_coarse']} coarse prompts, text context "
        f"{r['text_context_full']} -> {r['text_context_trimmed']} tokens, {r['steps']} timed steps after "
        f"{r['warmup']} warm-up" + (", variants interleaved" if r["interleaved"] else "")
    )
    print(
        f"  {'variant':66s} {'s/step':>9s} {'img/s':>8s} {'TFLOP/step':>11s} {'TFLOP/s':>8s} {'peak GB':>8s} {'speedup':>8s}"
    )
    for row in r["ablation"]:
        if row["step_s"] is None:
            print(f"  {row['name']:66s} failed: {row['error']}")
            continue
        peak = "-" if row["peak_memory_gb"] is None else f"{row['peak_memory_gb']:.2f}"
        print(
            f"  {row['name']:66s} {row['step_s']:9.4f} {row['images_per_s']:8.1f} {row['tflop_per_step']:11.4f} "
            f"{row['achieved_tflops']:8.3f} {peak:>8s} {row['speedup_vs_baseline']:7.2f}x"
            + (" *" if row.get("note") else "")
        )
    if any(row.get("note") for row in r["ablation"]):
        print("  * autocast applies on CUDA only; on CPU the trainer stays fp32")
    print(
        f"  baseline {r['baseline_s']:.4f} s/step, ours {r['ours_s']:.4f} s/step: ratio {r['ratio']:.2f}x "
        f"(medians; fastest steps {r['ratio_of_fastest_steps']:.2f}x; FLOPs: FlopCounterMode; reference logits cached once in {r['reference_cache_s']:.3f} s)"
    )
    if r["graph_ratio"]:
        print(
            f"  experimental whole-step CUDA graph: {r['graph_s']:.4f} s/step, ratio {r['graph_ratio']:.2f}x"
        )
    _write(args.json, r)
    return 0


def run_scaling(args) -> int:
    from kt_harness.bench.bench import bench_scaling

    _threads(args.threads)
    r = bench_scaling(args.model, args.batches, args.device, args.steps, args.warmup, args.seed)
    print(
        f"kt bench scaling: {_header(r)}\n  {r['variant']}, {r['steps']} timed steps after {r['warmup']} warm-up"
    )
    print(f"  {'batch':>6s} {'s/step':>9s} {'img/s':>9s} {'TFLOP/s':>9s} {'peak GB':>8s}")
    for row in r["rows"]:
        peak = "-" if row["peak_memory_gb"] is None else f"{row['peak_memory_gb']:.2f}"
        print(
            f"  {row['batch']:6d} {row['step_s']:9.4f} {row['images_per_s']:9.1f} {row['achieved_tflops']:9.3f} {peak:>8s}"
        )
    _write(args.json, r)
    return 0


def run_profile(args) -> int:
    from kt_harness.bench.bench import profile_step

    _threads(args.threads)
    table = profile_step(args.model, args.batch, args.device, args.steps, row_limit=args.rows)
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table + "\n")
        print(f"wrote {args.out}")
    return 0


def run_eval(args) -> int:
    from kt_harness.bench.bench_eval import bench_eval

    _threads(args.threads)
    r = bench_eval(
        args.model,
        args.images,
        args.device,
        args.batch,
        args.jpeg_size,
        args.repeats,
        args.workers,
        args.seed,
    )
    print(f"kt bench eval: {_header(r)}")
    print(
        f"  {r['n_images']} JPEGs of {r['jpeg_size']} px -> {r['input_size']} px input, batch {r['batch']}, "
        f"median of {r['repeats']}, autocast {r['autocast']}"
    )
    for key, label in (
        ("end_to_end", "end to end (decode JPEG, preprocess, encode)"),
        ("encode", "encode preprocessed tensors (already on device)"),
        ("cache", "tensor cache (cached_tensors hit, then encode)"),
    ):
        print(f"  {label:50s} {r[key + '_images_per_s']:10.1f} img/s")
    print(
        f"  cache / encode {r['ratio_cache_over_encode']:.2f}, end to end / encode "
        f"{r['ratio_end_to_end_over_encode']:.2f} (building the cache took {r['cache_build_s']:.2f} s)"
    )
    _write(args.json, r)
    return 0


def run_run(args) -> int:
    from kt_harness.bench.bench_run import bench_run, format_report

    _threads(args.threads)
    r = bench_run(
        args.forget,
        args.method,
        args.device,
        args.repeats,
        args.steps,
        args.seed,
        args.eval_per_class,
    )
    print(format_report(r))
    _write(args.json, r)
    return 0
