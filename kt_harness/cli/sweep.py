"""`kt sweep CONFIG`: a YAML grid of unlearning trials, in process or on Ray, resumable (docs/sweeps.md)."""

from __future__ import annotations

from pathlib import Path

from kt_harness.cli.options import add_audit_options, check_audit


def register(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a YAML sweep of unlearning trials (local or Ray), resumable",
        description="Run every trial of a sweep config (examples: sweeps/*.yaml). Finished trials are "
        "kept under --out and skipped by a re-run; failed ones are retried.",
    )
    p.add_argument("config", help="the sweep's YAML file, e.g. sweeps/smoke.yaml")
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    help = "with --backend ray: join a running cluster ('auto', or host:port); default: start a "
    p.add_argument("--address", help=help + "local Ray for this command and stop it afterwards")
    help = "with a local Ray: the CPUs it may use (default: all)"
    p.add_argument("--num-cpus", type=int, help=help)
    p.add_argument("--out", help="output folder (default: outputs/sweeps/<config name>)")
    p.add_argument("--data-root", help="override the config's data.root (a real-data folder)")
    help = "list the trials and their keys, run nothing"
    p.add_argument("--dry-run", action="store_true", help=help)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_audit_options(p)  # replaces the config's `audit`; the columns: kt_harness.sweep.audit
    p.set_defaults(func=run)


def run(args) -> int:
    from kt_harness.sweep import load_config, plan, run_sweep
    from kt_harness.sweep.store import Store

    cfg = load_config(args.config, data_root=args.data_root)
    if check_audit(args):  # kt unlearn's checks and messages: names, --audit-k, --audit-steps
        from kt_harness.sweep.audit import parse_audit

        cfg.audit = parse_audit(dict(names=args.audit, k=args.audit_k, steps=args.audit_steps))
    out = Path(args.out or Path("outputs") / "sweeps" / Path(args.config).stem)
    if args.num_cpus is not None and args.num_cpus < 1:
        raise ValueError("--num-cpus must be >= 1")
    if args.dry_run:
        store = Store(out)
        for spec in plan(cfg, out):  # difficulty/random requests: drawn once, kept in out
            print(
                f"{spec.key}  {store.status(spec.key):8s} {spec.method:12s} seed {spec.seed}  "
                f"{spec.request}: {', '.join(spec.forget)}"
            )
        return 0
    outcome = run_sweep(
        cfg,
        out,
        backend=args.backend,
        address=args.address,
        num_cpus=args.num_cpus,
        progress=not args.no_progress,
    )
    n = len(outcome.results)
    ok = int((outcome.results.status == "ok").sum())
    print(
        f"{ok}/{n} trials finished ({outcome.ran} run now, {outcome.skipped} skipped), "
        f"{outcome.failed} failed; wrote {out / 'results.csv'} and {out / 'leaderboard.md'}"
    )
    if outcome.interrupted:
        print(
            f"interrupted: the {ok} finished trials are kept; run the same command to complete it"
        )
        return 130
    if outcome.failed:
        failed = outcome.results[outcome.results.status == "failed"]
        for _, r in failed.head(5).iterrows():
            print(f"  failed {r.key} ({r.method}, seed {r.seed}, {r.request}): {r.error}")
        print("re-run the same command to retry the failed trials (finished ones are skipped)")
        return 1
    return 0
