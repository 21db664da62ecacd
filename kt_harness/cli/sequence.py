"""`kt unlearn --forget A --then B --then C`: requests unlearned one after another on one model
(kt_lib.sequential), the matrix of Q printed and written to --json. Not a subcommand (no `register`)."""

from __future__ import annotations

from dataclasses import asdict

from kt_harness.cli.options import write_json


def add_then_option(p) -> None:
    help = (
        "a later request (repeatable, in order): unlearned from the previous request's model, and Q of "
        "every request so far, U and zero-shot utility reported after each (kt_lib.sequential)"
    )
    p.add_argument("--then", action="append", metavar="NAME", help=help)


def check_then(args) -> None:
    """--then with an option that takes one request's model, refused before the model loads."""
    single = [f"--{n}" for n in ("audit", "attack", "save") if args.then and getattr(args, n)]
    if single:
        raise ValueError(
            f"{' and '.join(single)} {'takes' if len(single) == 1 else 'take'} one request's model, not a "
            f"sequence of requests: drop {'them' if len(single) > 1 else 'it'}, or run without --then"
        )


def run_sequence(args, exp) -> int:
    """--then: the requests in turn on one model (kt_lib.sequential), the matrix printed and in the JSON."""
    from kt_lib import sequential

    n = 1 + len(args.then)
    print(f"{args.method}: {n} requests in turn, each from the model the request before left")
    seq = sequential.sequence(exp, args.then)
    table = sequential.frame(seq).set_index("step")
    print("Q of each request (columns) after each request (rows), then the Q of all of them, U and")
    print("zero-shot utility, every score against the original model:")
    print(table.to_string(float_format=lambda v: f"{v:.3f}", na_rep=""))
    config = dict(asdict(exp.config()), model=args.model, pretrained=args.pretrained)
    out = dict(method=seq["method"], goal=args.goal, requests=seq["requests"], matrix=seq["matrix"])
    write_json(args.json, dict(out, steps=seq["steps"], before=exp.before, config=config))
    return 0
