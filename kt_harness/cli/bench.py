"""`kt bench step|scaling|profile|eval|run`: speed of one unlearning step, of zero-shot evaluation and of a
whole unlearning run.

Both print a side-by-side table and can write the full report as JSON (`kt_harness.bench.bench` documents the keys).
Random weights, no download: `--model` is the world model's architecture or any `open_clip.list_models()` name.
`kt bench run` runs the real engine on the embedded world model (`kt_harness.bench.bench_run`).
"""

from __future__ import annotations

import argparse

from kt_harness.cli.options import write, write_json

STEPS = "timed steps per {} (default 10 on CUDA, 3 on CPU)"
WARMUP = "untimed steps{} (default 3 on CUDA, 1 on CPU)"


def _int(p, flag: str, default, help=None, **kw) -> None:
    p.add_argument(flag, type=int, default=default, help=help, **kw)


def _common(p, seed: bool = True, report: bool = True, model: bool = True) -> None:
    """The options every bench subcommand shares."""
    if model:
        help = "world model or open_clip name, e.g. ViT-L-14"
        p.add_argument("--model", default="kt-tiny-dogworld", help=help)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    if seed:
        _int(p, "--seed", 0)
    _int(p, "--threads", None, "CPU threads for torch (default: torch's choice)")
    if report:
        p.add_argument("--json", help="write the report to this JSON file")


def register(sub) -> None:
    """Add `bench` with its `step`, `scaling`, `profile`, `eval` and `run` subcommands to the `kt` parser's
    subparsers."""
    help = "time an unlearning step or run (baseline vs ours) or zero-shot evaluation"
    which = sub.add_parser("bench", help=help).add_subparsers(
        dest="bench_command", required=True, metavar="{step,eval,scaling,profile,run}"
    )
    help = "official-style baseline step vs the trainer's step, with an ablation"
    step = which.add_parser("step", help=help)
    _common(step)
    _int(step, "--batch", 32, "images per step (default 32)")
    _int(step, "--steps", None, STEPS.format("variant"))
    _int(step, "--warmup", None, WARMUP.format(" per variant"))
    help = "time only the baseline and ours"
    step.add_argument("--no-ablation", dest="ablation", action="store_false", help=help)
    help = "skip the experimental whole-step CUDA graph row (CUDA only)"
    step.add_argument("--no-experimental", dest="experimental", action="store_false", help=help)
    help = "alternate the variants step by step (default: on CPU, where other load adds noise; "
    help += "sequential on CUDA, which gives each variant's peak memory)"
    step.add_argument("--interleave", action=argparse.BooleanOptionalAction, help=help)
    step.set_defaults(func=run_step)

    sc = which.add_parser("scaling", help="the trainer's step alone at several batch sizes")
    _common(sc)
    _int(sc, "--batches", [32, 64, 128], "batch sizes (default 32 64 128)", nargs="+")
    _int(sc, "--steps", None, STEPS.format("batch size"))
    _int(sc, "--warmup", None, WARMUP.format(""))
    sc.set_defaults(func=run_scaling)

    help = "torch.profiler table of the trainer's step, heaviest ops first"
    pr = which.add_parser("profile", help=help)
    _common(pr, seed=False, report=False)
    _int(pr, "--batch", 32)
    _int(pr, "--steps", 5, "profiled steps (after 2 warm-up steps)")
    _int(pr, "--rows", 30, "table rows")
    pr.add_argument("--out", help="also write the table to this text file")
    pr.set_defaults(func=run_profile)

    help = "zero-shot encoding: JPEG end to end vs preprocessed tensors vs the cache"
    ev = which.add_parser("eval", help=help)
    _common(ev)
    _int(ev, "--images", None, "generated JPEGs (default 2048 on CUDA, 256 on CPU)")
    _int(ev, "--batch", 256, "encoding batch size (default 256)")
    _int(ev, "--jpeg-size", None, "JPEG side in pixels (default 2x the input size)")
    _int(ev, "--repeats", 3, "timed passes per path; the median is reported")
    _int(ev, "--workers", 0, "DataLoader workers for the end-to-end path")
    ev.set_defaults(func=run_eval)

    help = "a full unlearning run (training + evaluation): official-style baseline vs ours"
    run = which.add_parser("run", help=help)
    _common(run, model=False)
    help = "concepts (default Samoyed)"
    run.add_argument("--forget", nargs="+", default=["Samoyed"], help=help)
    run.add_argument("--method", default="nhl_kl", help="a loss method (default nhl_kl)")
    _int(run, "--steps", None, "budget (default: the preset's 48)")
    _int(run, "--repeats", 3, "timed runs each; the median is reported")
    _int(run, "--eval-per-class", None, "test images per breed")
    run.set_defaults(func=run_run)


def _measure(args, fn, names: str, **kw):
    """`fn` called with the options `names` (in this order) and `kw`, on `--threads` CPU threads."""
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    return fn(*(getattr(args, name) for name in names.split()), **kw)


def _header(r: dict) -> str:
    return (
        f"{r['model']} on {r['device']} ({r['device_name']}), torch {r['torch']}, open_clip {r['open_clip']}, "
        f"{r['date']}"
    )


def run_step(args) -> int:
    from kt_harness.bench.bench import bench_step

    names = "model batch device steps warmup seed ablation interleave experimental"
    r = _measure(args, bench_step, names)
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
    write_json(args.json, r)
    return 0


def run_scaling(args) -> int:
    from kt_harness.bench.bench import bench_scaling

    r = _measure(args, bench_scaling, "model batches device steps warmup seed")
    print(
        f"kt bench scaling: {_header(r)}\n  {r['variant']}, {r['steps']} timed steps after {r['warmup']} warm-up"
    )
    print(f"  {'batch':>6s} {'s/step':>9s} {'img/s':>9s} {'TFLOP/s':>9s} {'peak GB':>8s}")
    for row in r["rows"]:
        peak = "-" if row["peak_memory_gb"] is None else f"{row['peak_memory_gb']:.2f}"
        print(
            f"  {row['batch']:6d} {row['step_s']:9.4f} {row['images_per_s']:9.1f} {row['achieved_tflops']:9.3f} {peak:>8s}"
        )
    write_json(args.json, r)
    return 0


def run_profile(args) -> int:
    from kt_harness.bench.bench import profile_step

    table = _measure(args, profile_step, "model batch device steps", row_limit=args.rows)
    print(table)
    if args.out:
        write(args.out, table + "\n")
    return 0


def run_eval(args) -> int:
    from kt_harness.bench.bench_eval import bench_eval

    names = "model images device batch jpeg_size repeats workers seed"
    r = _measure(args, bench_eval, names)
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
    write_json(args.json, r)
    return 0


def run_run(args) -> int:
    from kt_harness.bench.bench_run import bench_run, format_report

    names = "forget method device repeats steps seed eval_per_class"
    r = _measure(args, bench_run, names)
    print(format_report(r))
    write_json(args.json, r)
    return 0
