"""`kt reproduce table2|table3|table4`: the paper's protocol, our numbers beside the paper's, resumable."""

from __future__ import annotations

import json
from pathlib import Path

from kt_harness.cli.options import add_data_options, add_model_options, check_data, open_data


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="run one of the paper's tables and write it beside the paper's numbers"
    )
    p.add_argument("table", choices=("table2", "table3", "table4"))
    p.add_argument(
        "--world",
        action="store_true",
        help="the embedded world and its model (CPU, minutes); same as giving no --data-root",
    )
    add_model_options(p)
    add_data_options(p)
    p.add_argument("--preset", choices=("default", "paper"), default="paper", help="default: paper")
    p.add_argument("--methods", nargs="+", help="a subset of the table's methods")
    p.add_argument("--levels", nargs="+", help="a subset of the table's levels")
    p.add_argument("--samples-per-class", type=int, default=30)
    p.add_argument("--eval-per-class", type=int, default=None)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    budget.add_argument(
        "--steps", type=int, default=None, help="a budget in optimiser steps instead"
    )
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
    extra = {"num_epochs": args.epochs} if args.epochs else {}
    extra.update({"num_steps": args.steps} if args.steps else {})

    def experiment_for(targets, goal):
        return Experiment(
            targets,
            model,
            tokenizer,
            samples_per_class=args.samples_per_class,
            data=source,
            preset=args.preset,
            goal=goal,
            seed=args.seed,
            **extra,
        )

    identity = dict(
        model=args.model,
        pretrained=args.pretrained,
        data={k: v for k, v in data.items() if k != "skipped"},
        preset=args.preset,
        seed=args.seed,
        samples_per_class=args.samples_per_class,
        eval_per_class=args.eval_per_class,
        **extra,
    )
    df = reproduce(
        args.table,
        experiment_for,
        source.taxonomy,
        identity,
        args.out,
        methods=args.methods,
        levels=args.levels,
    )
    for level, names in df.attrs["dropped"].items():
        if names:
            print(
                f"  {level}: {len(names)} of the paper's targets are not in this taxonomy: {names}"
            )
    cols = ["level", "method", "Q", "paper_Q", "U", "paper_U", "QU", "paper_QU"]
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"wrote {Path(args.out) / (args.table + '.csv')} and .md")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        rows = json.loads(df.to_json(orient="records"))
        Path(args.json).write_text(
            json.dumps(dict(table=args.table, rows=rows, **df.attrs), indent=2, default=str) + "\n"
        )
        print(f"wrote {args.json}")
    return 0
