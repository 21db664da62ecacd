"""The Ray backend: each trial is one Ray task (`run_trial`), asking for 1 GPU on a GPU cluster, else CPUs.

Ray core tasks rather than Ray Tune: a sweep here is a fixed grid whose trials are independent and short,
with no search algorithm or early stopping to schedule; the results must be keyed, written and resumed by the
same code as the local backend (Tune keeps its own experiment folders, trial names and checkpoints); and
`ray` alone is a smaller install than `ray[tune]`. See docs/sweeps.md.
"""

from __future__ import annotations

import os

INSTALL = "pip install 'kt-unlearn[ray]' (or pip install ray)"


def import_ray():
    try:
        import ray
    except ImportError:
        raise RuntimeError(f"--backend ray needs Ray: {INSTALL}; or use --backend local") from None
    return ray


class RayBackend:
    """Starts a local Ray (or joins `address`) on first use and stops what it started."""

    name = "ray"

    def __init__(self, resources: dict, address: str | None = None, num_cpus: int | None = None):
        self.ray = import_ray()
        self.resources, self.address, self.num_cpus = resources, address, num_cpus
        self.started = False
        self.options = None
        self.slots = 1

    def _start(self) -> None:
        if self.options is not None:
            return
        ray = self.ray
        if not ray.is_initialized():
            log = dict(log_to_driver=os.environ.get("KT_SWEEP_DEBUG") == "1")
            local = dict(num_cpus=self.num_cpus, include_dashboard=False)
            for attempt in (1, 2):  # a busy machine can miss Ray's 30 s start-up wait: once more
                try:
                    ray.init(**(dict(address=self.address) if self.address else local), **log)
                    break
                except Exception as err:  # noqa: BLE001 - Ray raises bare Exceptions here
                    ray.shutdown()
                    if self.address or attempt == 2:
                        where = "start a local Ray"
                        where = f"join the Ray cluster at {self.address}" if self.address else where
                        raise RuntimeError(
                            f"could not {where}: {str(err).rstrip('.')}. With --address, check `ray status` on that "
                            "node; a local Ray on a busy machine can time out starting (try again); "
                            "or run with --backend local"
                        ) from err
            self.started = True
        gpus = ray.cluster_resources().get("GPU", 0)
        want = self.resources.get("gpus", "auto")
        if want == 1 and not gpus:
            raise RuntimeError(
                "resources.gpus is 1 but the Ray cluster has no GPU; set gpus: auto or 0 to run on CPUs"
            )
        cpus = int(self.resources.get("cpus", 1))
        use_gpu = bool(gpus) and want != 0
        self.options = dict(num_cpus=cpus, num_gpus=1 if use_gpu else 0, max_retries=0)
        total = gpus if use_gpu else ray.cluster_resources().get("CPU", 1) // cpus
        self.slots = max(1, int(total))  # trials that can run at once

    def resolver(self, cfg):
        """Resolve difficulty / random requests inside a task with a trial's resources (a GPU if any)."""
        from kt_harness.sweep.requests import resolve_requests

        self._start()
        return self.ray.get(self.ray.remote(resolve_requests).options(**self.options).remote(cfg))

    def run(self, todo, on_start, on_done) -> None:
        """Submit every trial at once; Ray runs as many as the cluster's resources allow. Each finished
        trial is handed to `on_done` as soon as it returns; a crashed worker (e.g. killed for memory)
        becomes a failed row. Ctrl-C cancels what is still queued or running."""
        if not todo:
            return
        from kt_harness.sweep.trial import failed_row, run_trial

        self._start()
        ray = self.ray
        task = ray.remote(run_trial).options(**self.options)
        pending = {task.remote(spec.to_dict()): spec for spec in todo}
        on_start(len(pending))
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    spec = pending.pop(ref)
                    try:
                        row = ray.get(ref)
                    except Exception as err:  # noqa: BLE001 - worker died: record, go on
                        row = failed_row(spec, f"{type(err).__name__}: {str(err)[-2000:]}")
                    on_done(row)
        except KeyboardInterrupt:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise

    def stop(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False
