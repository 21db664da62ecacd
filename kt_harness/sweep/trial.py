"""`run_trial(spec) -> row`: one unlearning run, the same code path as `kt unlearn`, on any backend.

A trial builds a :class:`kt_lib.experiment.Experiment` on the model and data its spec names (both loaded once
per process and reused by the next trial of the same sweep), runs the method (a setting this machine's run
cache already holds, from a notebook, `kt unlearn` or another sweep, is not trained again), and returns one
flat row: the settings, Q, U, Q-U, OOD, zero-shot utility, seconds, what training cost (`kt_lib.efficiency`),
device and host; with the sweep's `attack`, also the relearning attack's summary of the unlearned model
(`relearn_<attack>_k<k>_*`: `kt_harness.sweep.attack`, the code of `kt unlearn --attack relearn`), and with
its `audit`, the audits' columns (`audit.<name>.*`: `kt_harness.sweep.audit`). A trial that raises (a bad
setting, CUDA out of memory) returns a row with status "failed" and the error instead of raising.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from contextlib import contextmanager, suppress
from datetime import datetime, timezone

from kt_harness.sweep.attack import attack_columns, describe_attack
from kt_harness.sweep.audit import audit_columns, describe_audit
from kt_harness.sweep.spec import TrialSpec
from kt_lib.efficiency import EFFICIENCY

METRICS = ("Q", "U", "QU", "drawing_Q", "drawing_U", "drawing_QU", "zero_shot_utility")
METRICS += ("after_zero_shot",)
_LOADED: dict = {}  # one (model, preprocess, tokenizer) and one data source per process


def load(spec: TrialSpec):
    """(model, tokenizer, source) for `spec`, cached per process (the last one only: GPU memory)."""
    from kt_lib.models import load_model
    from kt_lib.sources import data_source

    mkey = (spec.model, spec.pretrained, spec.model_id, spec.device)
    if _LOADED.get("model_key") != mkey:
        _LOADED.clear()
        _LOADED["model"] = load_model(
            spec.model, spec.pretrained, device=spec.device, progress=False
        )
        _LOADED["model_key"] = mkey
    model, preprocess, tokenizer = _LOADED["model"]
    dkey = repr(sorted(spec.data.items()))
    if _LOADED.get("data_key") != dkey:
        d = spec.data
        extra = {k: d[k] for k in ("taxonomy", "train_per_class", "test_per_class") if k in d}
        _LOADED["data"] = data_source(
            d["root"], preprocess, eval_per_class=d["eval_per_class"], **extra
        )
        _LOADED["data_key"] = dkey
    return model, tokenizer, _LOADED["data"]


@contextmanager
def torch_threads(n: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def settings_row(spec: TrialSpec) -> dict:
    """The columns that say which trial a row is."""
    return dict(
        key=spec.key,
        request=spec.request,
        level=spec.level,
        forget=" | ".join(spec.forget),
        method=spec.method,
        seed=spec.seed,
        **spec.settings,
        model=spec.model,
        pretrained=spec.pretrained,
        data=spec.data.get("root") or "embedded world",
        eval_per_class=spec.data.get("eval_per_class"),
        **({"attack": describe_attack(spec.attack)} if spec.attack else {}),
        **({"audit": describe_audit(spec.audit)} if spec.audit else {}),
    )


def failed_row(spec: TrialSpec, error: str, seconds: float = 0.0, device: str = "") -> dict:
    row = dict(settings_row(spec), status="failed", error=error, seconds=round(seconds, 3))
    return dict(row, device=device, host=socket.gethostname(), finished=_now())


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _error_text(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    if "out of memory" in text.lower():
        text = "out of memory: " + text + " (lower batch_size, or give each trial a larger GPU)"
    return text


def run_trial(spec: TrialSpec | dict) -> dict:
    """Run one trial and return its row (status "ok" or "failed"); never raises for a trial's own error."""
    spec = TrialSpec.from_dict(spec) if isinstance(spec, dict) else spec
    start, device = time.perf_counter(), ""
    try:
        from kt_lib.experiment import Experiment
        from kt_lib.models import get_device

        device = str(get_device(spec.device))
        with torch_threads(spec.threads):
            model, tokenizer, source = load(spec)
            kw = dict(data=source, method=spec.method, seed=spec.seed, **spec.settings)
            exp = Experiment(list(spec.forget), model, tokenizer, **kw)  # incl. samples_per_class
            out = exp.run()
            extra = attack_columns(spec, exp, exp.result(out).model) if spec.attack else {}
            extra.update(audit_columns(spec, exp, out) if spec.audit else {})
    except Exception as err:  # noqa: BLE001 - a trial's failure is data, the sweep goes on
        if os.environ.get("KT_SWEEP_DEBUG") == "1":
            traceback.print_exc()
        _free_gpu_memory()
        return failed_row(spec, _error_text(err), time.perf_counter() - start, device)
    row = dict(settings_row(spec), status="ok", error="")
    row.update({m: float(out[m]) for m in METRICS if out.get(m) is not None})
    row.update(
        train_seconds=round(float(out["seconds"]), 3),
        **{k: out.get(k) for k in EFFICIENCY if k != "seconds"},  # peak memory, parameters changed
        steps=out["steps"],
        stopped=out["stopped"] or "",
        seconds=round(time.perf_counter() - start, 3),
        device=device,
        threads=spec.threads,
        host=socket.gethostname(),
        finished=_now(),
        **extra,
    )
    return row


def _free_gpu_memory() -> None:
    with suppress(Exception):  # best effort after a failure
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
