"""`run_sweep(config, out, backend)`: plan the trials, skip the finished ones, run the rest, write results.

    outcome = run_sweep("sweeps/smoke.yaml", "outputs/sweeps/smoke")                  # in process
    outcome = run_sweep("sweeps/smoke.yaml", "outputs/sweeps/smoke", backend="ray")   # local Ray / cluster

Every finished trial is written at once (`kt_harness.sweep.store`); a re-run skips trials whose row says "ok"
and retries failed ones; Ctrl-C stops the sweep and keeps (and tabulates) what finished. The same code
writes `results.csv`, `leaderboard.md` and `leaderboard.png` for either backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from kt_harness.sweep.audit import check_never_learned
from kt_harness.sweep.config import SweepConfig, load_config
from kt_harness.sweep.report import write_report
from kt_harness.sweep.requests import resolve_cached, resolve_requests
from kt_harness.sweep.spec import expand
from kt_harness.sweep.store import Store
from kt_harness.sweep.trial import run_trial

BACKENDS = ("local", "ray")


@dataclass
class SweepOutcome:
    folder: Path
    results: pd.DataFrame  # one row per planned trial
    ran: int  # trials run by this call
    skipped: int  # trials already finished before it
    failed: int  # trials whose row says failed, after this call
    interrupted: bool = False


class LocalBackend:
    """In process, one trial after another; needs no Ray."""

    name = "local"
    slots = 1
    resolver = staticmethod(resolve_requests)

    def run(self, todo, on_start, on_done) -> None:
        for spec in todo:
            on_start(1)
            on_done(run_trial(spec))

    def stop(self) -> None:
        pass


def make_backend(
    name: str, cfg: SweepConfig, address: str | None = None, num_cpus: int | None = None
):
    if name == "local":
        if address:
            raise ValueError("--address joins a Ray cluster: use it with --backend ray")
        return LocalBackend()
    if name == "ray":
        from kt_harness.sweep.ray_backend import RayBackend

        if address and num_cpus:
            raise ValueError(
                "--num-cpus sizes a local Ray; a cluster joined with --address has its own"
            )
        return RayBackend(cfg.resources, address=address, num_cpus=num_cpus)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def run_sweep(
    config: str | Path | SweepConfig,
    out: str | Path,
    backend: str = "local",
    address: str | None = None,
    num_cpus: int | None = None,
    progress: bool = True,
    log=print,
) -> SweepOutcome:
    """Run the sweep `config` (a YAML path or a checked SweepConfig) into the folder `out`."""
    cfg = config if isinstance(config, SweepConfig) else load_config(config)
    store = Store(out)
    runner = make_backend(backend, cfg, address, num_cpus)
    interrupted, count = False, dict(ran=0, running=0, failed=0)
    try:
        specs = expand(cfg, resolve_cached(cfg, store.folder, runner.resolver))
        check_never_learned(specs)  # --audit mia,ks: a missing never-learned model stops it here
        store.save_plan(cfg.as_dict(), specs)
        todo = [s for s in specs if store.status(s.key) != "ok"]
        retried = sum(store.status(s.key) == "failed" for s in todo)
        log(
            f"{cfg.name}: {len(specs)} trials, {len(specs) - len(todo)} already finished, "
            f"{len(todo)} to run ({retried} failed before, retried) on the {runner.name} backend"
        )
        done, on = len(specs) - len(todo), progress and bool(todo)
        bar = tqdm(total=len(specs), initial=done, unit="trial", desc="trials", disable=not on)

        def on_start(n: int) -> None:  # the bar shows how many trials run, wait and failed
            count["running"] += n
            now = count["running"]
            running = min(now, runner.slots)  # Ray knows its slots once started
            bar.set_postfix(running=running, queued=now - running, failed=count["failed"])

        def on_done(row: dict) -> None:
            store.write(row)
            count["ran"] += 1
            count["failed"] += row.get("status") == "failed"
            bar.update(1)
            on_start(-1)

        try:
            runner.run(todo, on_start, on_done)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
    finally:
        runner.stop()
    df = store.write_results(specs)
    write_report(store.folder, df, cfg.paper, cfg.name)
    failed = int((df.status == "failed").sum())
    return SweepOutcome(store.folder, df, count["ran"], len(specs) - len(todo), failed, interrupted)


def plan(config: str | Path | SweepConfig, out: str | Path | None = None):
    """The trials a sweep would run (resolving difficulty/random requests loads the model), without running."""
    cfg = config if isinstance(config, SweepConfig) else load_config(config)
    resolver = LocalBackend().resolver
    requests = resolve_cached(cfg, Path(out), resolver) if out else resolver(cfg)
    return expand(cfg, requests)
