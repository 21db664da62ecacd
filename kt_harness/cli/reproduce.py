"""`kt reproduce table2|table3|table4`: the paper's protocol, our numbers beside the paper's, resumable."""

from __future__ import annotations

import json
from pathlib import Path

from kt_harness.cli.options import (
    add_data_options,
    add_model_options,
    check_data,
    open_data,
    write_json,
)


def register(sub) -> None:
    help = "run one of the paper's tables and write it beside the paper's numbers"
    p = sub.add_parser("reproduce", help=help)
    p.add_argument("table", choices=("table2", "table3", "table4"))
    help = "the embedded world and its model (CPU, minutes); same as giving no --data-root"
    p.add_argument("--world", action="store_true", help=help)
    add_model_options(p)
    add_data_options(p)
    p.add_argument("--preset", choices=("default", "paper"), default="paper", help="default: paper")
    p.add_argument("--methods", nargs="+", help="a subset of the table's methods")
    p.add_argument("--levels", nargs="+", help="a subset of the table's levels")
    p.add_argument("--samples-per-class", type=int, default=30)
    p.add_argument("--eval-per-class", type=int, default=None)
    budget = p.add_mutually_exclusive_group()
    help = "override the preset's epochs"
    budget.add_argument("--epochs", type=int, dest="num_epochs", metavar="EPOCHS", help=help)
    help = "a budget in optimiser steps instead"
    budget.add_argument("--steps", type=int, dest="num_steps", metavar="STEPS", help=help)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="outputs/reproduce", help="tables and finished runs (resume)")
    p.add_argument("--json", help="also write the rows to this JSON file")
    p.set_defaults(func=run)


def run(args) -> int:
    from kt_harness.reproduce import reproduce
    from kt_lib.experiment import Experiment
    from kt_lib.models import load_model

    if args.world and (args.data_root or args.model != "kt-tiny-dogworld"):
        raise ValueError("--world runs the embedded world model: drop --data-root and --model")
    check_data(args)
    model, preprocess, tokenizer = load_model(args.model, args.pretrained, device=args.device)
    source, data = open_data(args, preprocess)
    extra = {k: getattr(args, k) for k in ("num_epochs", "num_steps") if getattr(args, k)}
    run = dict(samples_per_class=args.samples_per_class, preset=args.preset, seed=args.seed)

    def experiment_for(targets, goal):
        return Experiment(targets, model, tokenizer, data=source, goal=goal, **run, **extra)

    data = {k: v for k, v in data.items() if k != "skipped"}
    identity = dict(model=args.model, pretrained=args.pretrained, data=data)
    identity.update(preset=args.preset, seed=args.seed, samples_per_class=args.samples_per_class)
    identity.update(eval_per_class=args.eval_per_class, **extra)
    taxonomy, chosen = source.taxonomy, dict(methods=args.methods, levels=args.levels)
    df = reproduce(args.table, experiment_for, taxonomy, identity, args.out, **chosen)
    for level, names in df.attrs["dropped"].items():
        if names:
            print(
                f"  {level}: {len(names)} of the paper's targets are not in this taxonomy: {names}"
            )
    cols = ["level", "method", "Q", "paper_Q", "U", "paper_U", "QU", "paper_QU"]
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"wrote {Path(args.out) / (args.table + '.csv')} and .md")
    if args.json:
        rows = json.loads(df.to_json(orient="records"))
        write_json(args.json, dict(table=args.table, rows=rows, **df.attrs))
    return 0
