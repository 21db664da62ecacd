"""Markdown tables from the JSON reports `benchmarks/gpu_check.sh` writes (any subset of them).

    .venv/bin/python benchmarks/gpu_table.py DIR [--out DIR/table.md]

Reads DIR/step.json, DIR/step_model2.json, DIR/scaling.json and DIR/eval.json (written by `kt bench step`,
`kt bench scaling` and `kt bench eval`) and prints one table per report, headed by device and versions.
"""

import argparse
import json
from pathlib import Path


def header(r: dict) -> str:
    return (
        f"{r['model']} on {r['device_name']} ({r['device']}), torch {r['torch']}, open_clip {r['open_clip']}, "
        f"python {r['python']}, {r['date']}"
    )


def _fmt(x, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def step_table(r: dict) -> str:
    lines = [
        f"### `kt bench step`: {header(r)}",
        "",
        f"batch {r['batch']}, {r['n_fine']} fine + {r['n_coarse']} coarse prompts, text context "
        f"{r['text_context_full']} → {r['text_context_trimmed']}, medians of {r['steps']} steps after "
        f"{r['warmup']} warm-up, TF32 off.",
        "",
        "| variant | s/step | img/s | TFLOP/step | TFLOP/s | peak GB | speedup |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["ablation"]:
        if row["step_s"] is None:
            lines.append(f"| {row['name']} | failed: {row['error'][:120]} | | | | | |")
            continue
        lines.append(
            f"| {row['name']} | {row['step_s']:.4f} | {row['images_per_s']:.1f} | "
            f"{row['tflop_per_step']:.3g} | {row['achieved_tflops']:.3g} | {_fmt(row['peak_memory_gb'], '.2f')} | "
            f"{row['speedup_vs_baseline']:.2f}x |"
        )
    lines += [
        "",
        f"**ratio baseline / ours = {r['ratio']:.2f}x** (fastest steps {r['ratio_of_fastest_steps']:.2f}x)"
        + (
            f"; experimental whole-step CUDA graph {r['graph_ratio']:.2f}x"
            if r.get("graph_ratio")
            else ""
        ),
    ]
    return "\n".join(lines)


def scaling_table(r: dict) -> str:
    lines = [
        f"### `kt bench scaling`: {header(r)}",
        "",
        f"{r['variant']}, medians of {r['steps']} steps.",
        "",
        "| batch | s/step | img/s | TFLOP/s | peak GB |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {x['batch']} | {x['step_s']:.4f} | {x['images_per_s']:.1f} | {x['achieved_tflops']:.3g} | "
        f"{_fmt(x['peak_memory_gb'], '.2f')} |"
        for x in r["rows"]
    ]
    return "\n".join(lines)


def eval_table(r: dict) -> str:
    return "\n".join(
        [
            f"### `kt bench eval`: {header(r)}",
            "",
            f"{r['n_images']} JPEGs of {r['jpeg_size']} px → {r['input_size']} px, batch {r['batch']}, "
            f"{r['workers']} decode workers, autocast {r['autocast']}, median of {r['repeats']}.",
            "",
            "| path | img/s |",
            "|---|---|",
            f"| end to end: decode JPEG → preprocess → encode | {r['end_to_end_images_per_s']:.1f} |",
            f"| encode only (tensors on the device) | {r['encode_images_per_s']:.1f} |",
            f"| tensor cache hit → encode | {r['cache_images_per_s']:.1f} |",
            "",
            f"cache / encode = **{r['ratio_cache_over_encode']:.2f}**, end to end / encode = "
            f"{r['ratio_end_to_end_over_encode']:.2f}, max feature difference {r['max_abs_feature_diff']:.2g}.",
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    tables = dict(step=step_table, step_model2=step_table, scaling=scaling_table, eval=eval_table)
    reports = {name: args.folder / f"{name}.json" for name in tables}
    parts = [tables[n](json.loads(p.read_text())) for n, p in reports.items() if p.exists()]
    if not parts:
        raise SystemExit(
            f"no reports in {args.folder}: expected step.json, scaling.json or eval.json"
        )
    text = "\n\n".join(parts) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
