"""`kt sweep`: config errors name the key, trials are keyed by content, nothing finished is lost or re-run,
a failing trial does not stop the sweep, and Ray gives the local backend's numbers trial by trial."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from procs import default_sigint, kt_sweep

from kt_harness.cli import main
from kt_harness.sweep import ConfigError, expand, load_config, load_results, parse_config, run_sweep
from kt_harness.sweep.requests import check_requests, resolve_requests
from kt_harness.sweep.spec import TrialSpec

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "sweeps" / "smoke.yaml"
TINY = dict(
    name="tiny",
    data=dict(eval_per_class=3),
    requests=[dict(name="A", forget=["Samoyed"])],
    methods=["nhl_kl"],
    settings=dict(num_epochs=1, samples_per_class=3),
)


def write(tmp_path: Path, **over) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**TINY, **over}))
    return path


def need_ray():
    """Ray, or a skip that says how to install it; with KT_REQUIRE_RAY=1 (CI) a missing Ray fails."""
    try:
        import ray
    except ImportError:
        if os.environ.get("KT_REQUIRE_RAY") == "1":
            pytest.fail("KT_REQUIRE_RAY=1 but Ray is not installed: pip install -e '.[ray]'")
        pytest.skip("Ray is not installed: pip install 'kt-unlearn[ray]'")
    return ray


@pytest.mark.unit
@pytest.mark.parametrize(
    "over, names",
    [
        (dict(methdos=["ga"]), ["methdos", "methods"]),
        (dict(settings=dict(epochs=2)), ["settings.epochs", "num_epochs"]),
        (dict(settings=dict(lr="fast")), ["settings.lr", "number"]),
        (dict(grid=dict(margin=2.0)), ["grid.margin", "list"]),
        (dict(grid=dict(alpha_coarse=[1.0, "x"])), ["grid.alpha_coarse[1]"]),
        (dict(methods=["nhl-kl"]), ["methods[0]", "nhl_kl"]),
        (dict(methods={"nhl_kl": {"marign": 1.0}}), ["methods.nhl_kl.marign", "margin"]),
        (dict(data=dict(eval_per_clas=3)), ["data.eval_per_clas", "eval_per_class"]),
        (dict(requests=[dict(difficulty="hard")]), ["requests[0].difficulty", "difficult"]),
        (dict(requests=[dict(forget=["Samoyed"], random=2)]), ["requests[0]", "exactly one"]),
        (dict(requests=[]), ["requests", "non-empty"]),
        (dict(seeds=[0, "one"]), ["seeds[1]", "integer"]),
        (dict(seeds=[]), ["seeds", "at least one"]),
        (dict(resources=dict(gpus=2)), ["resources.gpus"]),
        (dict(resources=dict(cpus=0)), ["resources.cpus"]),
        (dict(grid=dict(towers=["both", "vision"])), ["grid.towers[1]", "image"]),
        (dict(settings=dict(goal="coarsest")), ["settings.goal", "hybrid"]),
        (dict(settings=dict(margin=float("nan"))), ["settings.margin", "finite", ">= 0", "nan"]),
        (dict(settings=dict(margin="nan")), ["settings.margin", "got nan"]),  # YAML string
        (dict(grid=dict(lr=[2e-4, -1.0])), ["grid.lr[1]", "lr must be", "> 0", "-1.0"]),
        (
            dict(methods={"salun": {"salun_fraction": 1.5}}),
            ["methods.salun.salun_fraction", "(0, 1]"],
        ),
        (dict(grid=dict(alpha_fine=[0.0, float("inf")])), ["grid.alpha_fine[1]", "inf"]),
        (dict(grid=dict(ridge=[1.0, -2.0])), ["grid.ridge[1]", "ridge must be", ">= 0", "-2.0"]),
        (dict(attack="forget"), ["attack.type", "relearn"]),
        (dict(attack=dict(kk=[1])), ["unknown key attack.kk", "'k'"]),
        (dict(attack=dict(k=[1, 0])), ["attack.k[1]", ">= 1"]),
        (dict(attack=dict(steps=[0, -2])), ["attack.steps[1]", ">= 0"]),
        (dict(attack=dict(steps=[0, 1.5])), ["attack.steps[1]", "integer"]),
        (dict(attack=dict(attacks=["sibling"])), ["attack.attacks[0]", "siblings"]),
        (dict(attack=dict(probe="yes")), ["attack.probe", "true or false"]),
        (dict(audit="quant,mai"), ["audit.names", "'mai'", "mia, ks, quant, invert"]),
        (dict(audit=dict(names=["quant"], k=0)), ["audit.k", "from 1 to 100", "got 0"]),
        (dict(audit=dict(names="invert", stpes=5)), ["unknown key audit.stpes", "'steps'"]),
    ],
)
def test_config_errors_name_the_key(over, names):
    with pytest.raises(ConfigError) as info:
        parse_config({**TINY, **over})
    for name in names:
        assert name in str(info.value), (name, str(info.value))


@pytest.mark.unit
@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_are_valid(path):
    cfg = load_config(path)
    check_requests(cfg)
    specs = expand(cfg, [("probe", ["beagle"])])
    by_method = {s.method: s.settings for s in specs}
    assert set(by_method) == set(cfg.methods)
    for method, own in cfg.methods.items():  # a method's own settings win over the shared ones
        assert all(by_method[method][k] == v for k, v in own.items()), method
    if path.name == "paper_table2.yaml":
        assert by_method["ga"]["lr"] == 8e-8 and by_method["nhl_kl"]["lr"] == 1e-7


@pytest.mark.unit
def test_unknown_concept_fails_with_suggestion_before_any_model_is_loaded(tmp_path, capsys):
    cfg = write(tmp_path, requests=[["Samoyed"], ["Samoyd", "beagle"]])
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "out"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "requests[1]" in err and "Samoyed" in err, err


def test_key_is_a_hash_of_content_not_labels_or_devices():
    def keys(**over):
        cfg = parse_config({**TINY, **over})
        return [s.key for s in expand(cfg, resolve_requests(cfg))]

    base = keys()
    assert keys() == base
    assert keys(requests=[dict(name="other label", forget="Samoyed")]) == base
    assert keys(device="cpu", resources=dict(cpus=2)) == base
    assert (
        keys(settings=dict(num_epochs=1, samples_per_class=3, margin=2)) == base
    )  # 2 == default 2.0
    lower = keys(settings=dict(num_epochs=1, samples_per_class=3, lr=1e-4))
    assert lower != base
    assert (
        keys(settings=dict(num_epochs=1, samples_per_class=3, lr="1e-4")) == lower
    )  # YAML 1.1 string
    assert keys(seeds=[1]) != base
    assert keys(requests=[["Samoyed", "beagle"]]) != base
    grid = keys(grid=dict(lr=[1e-4, 2e-4]), seeds=[0, 1])
    assert len(set(grid)) == 4  # request x grid x seeds, all distinct
    with pytest.raises(ValueError, match="same"):
        keys(requests=[["Samoyed"], dict(name="dup", forget=["Samoyed"])])


def test_ridge_is_a_sweep_setting_and_the_attack_is_off_by_default_and_keyed_when_on():
    cfg = parse_config({**TINY, "methods": {"projection": {"ridge": 3}}, "grid": {"ridge": [0, 1]}})
    assert [s.settings["ridge"] for s in expand(cfg, resolve_requests(cfg))] == [0.0, 1.0]
    plain = parse_config(TINY)
    assert plain.attack is None and expand(plain, resolve_requests(plain))[0].attack is None
    full = parse_config({**TINY, "attack": "relearn"}).attack  # `kt unlearn --attack relearn`'s
    assert full == dict(
        type="relearn",
        k=[1, 5, 10],
        steps=[0, 1, 2, 4, 8, 16, 32],
        attacks=["forget", "siblings", "unrelated"],
        probe=False,
    )
    assert parse_config({**TINY, "attack": None}).attack is None

    def key(**over):
        cfg = parse_config({**TINY, **over})
        return expand(cfg, resolve_requests(cfg))[0].key

    assert key(attack="relearn") != key() != key(attack=dict(k=1, steps=[0, 2]))
    assert key(attack=dict(k=1, steps=[2, 0])) == key(attack=dict(k=[1], steps=[0, 2]))


def test_sweep_attack_adds_the_relearning_summary_as_columns(tmp_path, monkeypatch, world_model):
    """`attack:` runs `kt unlearn --attack relearn`'s code on each trial's unlearned model; the original
    model's copy stands in for the never-learned reference (as in test_residual_knowledge.py)."""
    import kt_lib.eval.residual as residual
    from kt_lib.checkpoint import save_checkpoint

    ref = tmp_path / "ref.safetensors"
    save_checkpoint(world_model[0].state_dict(), ref, {}, compact_vocab=True)
    monkeypatch.setattr(residual, "cached_reference", lambda *args: ref)
    attack = dict(k=1, steps=[0, 2], attacks=["forget"], probe=True)
    out = tmp_path / "out"
    done = run_sweep(parse_config({**TINY, "attack": attack}), out, progress=False, log=print)
    assert (done.ran, done.failed) == (1, 0), done.results.error.tolist()
    row = load_results(out).iloc[0]
    assert row.attack == "relearn k=1 steps=0,2 attacks=forget probe"
    assert row.relearn_reference == str(ref)
    half = row.relearn_forget_k1_steps_to_half
    assert pd.isna(half) or half in (0, 2), half
    for col in ("end", "end_U"):
        assert 0 <= row[f"relearn_forget_k1_{col}"] <= 1, col
    assert -1 <= row.relearn_forget_k1_residual <= 1
    assert 0 <= row.probe_forget <= 1 and 0 <= row.paraphrase_forget <= 1
    saved = json.loads((out / "trials" / f"{row.key}.json").read_text())
    assert saved["relearn_forget_k1_end"] == pytest.approx(row.relearn_forget_k1_end)
    # without a never-learned model: no residual column; with the attack off: no relearning columns
    monkeypatch.setattr(residual, "cached_reference", lambda *args: None)
    cfg = parse_config({**TINY, "attack": dict(attack, probe=False)})
    again = run_sweep(cfg, tmp_path / "noref", progress=False, log=print).results.iloc[0]
    assert again.status == "ok" and pd.isna(again.relearn_reference)
    assert 0 <= again.relearn_forget_k1_end <= 1
    assert not {"relearn_forget_k1_residual", "probe_forget"} & set(again.index)
    off = run_sweep(parse_config(TINY), tmp_path / "off", progress=False, log=print).results
    assert not [c for c in off.columns if c.startswith("relearn") or c == "attack"]


@pytest.mark.unit
def test_the_audit_is_off_by_default_and_keyed_when_on():
    def spec(**over):
        cfg = parse_config({**TINY, **over})
        return expand(cfg, resolve_requests(cfg))[0]

    assert spec().audit is None and parse_config({**TINY, "audit": None}).audit is None
    assert spec(audit="all").audit == dict(names=["mia", "ks", "quant", "invert"], k=5, steps=100)
    on = spec(audit=dict(names=["quant"], k=1, steps=2))
    assert spec(audit="quant,invert").key != spec().key != on.key
    assert on.key == spec(audit=dict(names="quant", k=1, steps=2)).key
    assert TrialSpec.from_dict(on.to_dict()) == on  # what a Ray worker receives


@pytest.mark.unit
@pytest.mark.parametrize(
    "flags, message",
    [
        (["--audit", "quant,foo"], "unknown audit 'foo'; use any of mia, ks, quant, invert or all"),
        (["--audit", "invert", "--audit-k", "0"], "--audit-k must be an integer from 1 to 100"),
        (["--audit", "mia,quant"], "kt world --retrain --without 'Samoyed'"),
    ],
)
def test_sweep_audit_bad_input_stops_before_any_trial(
    tmp_path, monkeypatch, capsys, flags, message
):
    """kt unlearn --audit's messages; mia/ks without a never-learned model: how to build it, exit 2."""
    import kt_lib.eval.recovery as recovery

    monkeypatch.setattr(recovery, "cached_reference", lambda *args: None)
    out = tmp_path / "out"
    assert main(["sweep", str(write(tmp_path)), "--out", str(out), "--no-progress", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (out / "trials").exists()  # nothing trained


def test_sweep_audit_adds_the_audits_as_columns(tmp_path, monkeypatch, capsys):
    """`kt sweep --audit quant,invert`: `kt unlearn --audit`'s code on each trial, as flat columns."""
    import kt_lib.eval.recovery as recovery

    monkeypatch.setattr(
        recovery, "cached_reference", lambda *args: None
    )  # no never-learned control
    out, flags = (
        tmp_path / "out",
        ["--audit", "quant,invert", "--audit-k", "1", "--audit-steps", "2"],
    )
    argv = ["sweep", str(write(tmp_path)), "--out", str(out), "--no-progress"]
    assert main(argv + flags) == 0, capsys.readouterr()
    row = load_results(out).iloc[0]
    assert row.status == "ok" and row.audit == "quant,invert k=1 steps=2"
    for scheme in ("int8", "int4_g64"):
        for col in ("forget_fine", "Q", "U"):
            assert 0 <= row[f"audit.quant.{scheme}.{col}"] <= 1, (scheme, col)
    for col in ("unlearned", "original", "recovered"):
        assert 0 <= row[f"audit.invert.{col}"] <= 1.5, col
    assert "audit.invert.never_learned" not in row and "--retrain" in row["audit.never_learned"]
    assert not [c for c in row.index if c.startswith(("audit.mia", "audit.ks"))]
    saved = json.loads((out / "trials" / f"{row.key}.json").read_text())
    assert saved["audit.quant.int8.Q"] == pytest.approx(row["audit.quant.int8.Q"])
    # what the run cost (issue 30 item 6) is in the row too
    assert row.peak_memory_mb > 0 and 0 < row.params_changed <= row.params_total
    assert main(argv + flags) == 0 and "1 skipped" in capsys.readouterr().out  # nothing runs again


def test_failed_trial_is_recorded_and_others_finish_then_rerun_retries_only_it(tmp_path, capsys):
    cfg = write(tmp_path, grid=dict(batch_size=[32, 0]))  # the trainer rejects batch_size 0
    out = tmp_path / "out"
    assert main(["sweep", str(cfg), "--out", str(out), "--no-progress"]) == 1
    df = load_results(out)
    assert list(df.status) == ["ok", "failed"]
    bad = df[df.status == "failed"].iloc[0]
    assert bad.batch_size == 0 and "batch_size" in bad.error and "positive" in bad.error, bad.error
    good = df[df.status == "ok"].iloc[0]
    assert 0 <= good.U <= 1 and 0 < good.QU <= 1
    assert "failed" in capsys.readouterr().out
    before = (out / "trials" / f"{good.key}.json").read_text()
    again = run_sweep(cfg, out, progress=False, log=lambda *_: None)
    assert (again.ran, again.skipped, again.failed) == (1, 1, 1)  # only the failed trial is retried
    assert (out / "trials" / f"{good.key}.json").read_text() == before
    md = (out / "leaderboard.md").read_text()
    assert "| nhl_kl |" in md and "paper Q-U" in md and (out / "leaderboard.png").exists()


def test_difficulty_and_random_requests_are_drawn_from_the_model_and_seeded():
    from kt_harness.sweep.trial import load
    from kt_lib.eval.evaluator import difficulty_levels
    from kt_lib.notebook.leaderboard import level_requests

    reqs = [dict(difficulty=["easy", "difficult"], size=2), dict(random=3, size=2, draw=1)]
    cfg = parse_config({**TINY, "requests": reqs})
    got = resolve_requests(cfg)
    assert resolve_requests(cfg) == got  # seeded: the same draw every time
    spec = expand(cfg, got)[0]
    model, tokenizer, source = load(spec)
    levels = difficulty_levels(source.evaluator.per_class(model, tokenizer))
    want = level_requests({k: levels[k] for k in ("easy", "difficult")}, 2, 0)
    assert got[:2] == [(f"{lvl}-0", want[lvl], lvl) for lvl in ("easy", "difficult")]
    randoms = [r[1] for r in got[2:]]
    assert len(randoms) == 3 and all(len(set(r)) == 2 for r in randoms)
    assert len({tuple(r) for r in randoms}) > 1  # three draws, not one request repeated
    other = parse_config({**TINY, "requests": [dict(random=3, size=2, draw=2)]})
    assert [r[1] for r in resolve_requests(other)] != randoms  # another draw, other concepts


def test_out_of_memory_in_a_trial_is_a_failed_row(monkeypatch):
    import torch

    from kt_harness.sweep import run_trial
    from kt_lib.experiment import Experiment

    def oom(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Experiment, "run", oom)
    cfg = parse_config(TINY)
    row = run_trial(expand(cfg, resolve_requests(cfg))[0])
    assert row["status"] == "failed" and row["error"].startswith("out of memory"), row["error"]
    assert "batch_size" in row["error"] and row["method"] == "nhl_kl"


def _stop_after(cfg: Path, out: Path, n: int, sig) -> tuple[int, str]:
    """Run `kt sweep` in a subprocess and send it `sig` once `n` trial rows exist. Its KT_CACHE links the
    suite's world pools but holds its own run cache: a trial an earlier session ran must train again."""
    private = out.parent / "kt_cache"
    private.mkdir(exist_ok=True)
    shared = Path(os.environ["KT_CACHE"])
    for pool in shared.glob("world-*"):
        if not (private / pool.name).exists():
            (private / pool.name).symlink_to(pool)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        KT_CACHE=str(private),
    )
    cmd = kt_sweep(cfg, out)
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_sigint,  # else a backgrounded pytest's child ignores Ctrl-C
    )
    deadline = time.monotonic() + 300
    while len(list((out / "trials").glob("*.json"))) < n and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.2)
    proc.send_signal(sig)
    log = proc.communicate(timeout=120)[0]
    return proc.returncode, log


@pytest.mark.slow  # ~20-30 s of processes started and killed on 2 cores; CI runs it (KT_SLOW=1)
@pytest.mark.alone
def test_killed_or_interrupted_sweep_keeps_finished_trials_and_rerun_runs_only_the_missing(
    tmp_path,
):
    # 40 steps a trial, so that a signal sent when a row appears lands mid-sweep, not after the last trial
    settings = dict(num_steps=40, samples_per_class=3)
    cfg = write(tmp_path, methods=["ga", "nhl_kl", "npo_kl", "nhl", "gdiff"], settings=settings)
    out = tmp_path / "out"
    rc, log = _stop_after(cfg, out, 1, signal.SIGKILL)  # killed: no chance to clean up
    killed = {p.name: p.read_text() for p in (out / "trials").glob("*.json")}
    assert rc == -signal.SIGKILL and 1 <= len(killed) < 5, log
    rc, log = _stop_after(cfg, out, len(killed) + 1, signal.SIGINT)  # Ctrl-C
    finished = {p.name: p.read_text() for p in (out / "trials").glob("*.json")}
    assert rc == 130 and "interrupted" in log, log
    assert f"{len(killed)} already finished" in log  # the killed run's trials were not run again
    assert len(killed) < len(finished) < 5, f"the sweep was not stopped midway: {log}"
    partial = pd.read_csv(out / "results.csv")
    assert (partial.status == "ok").sum() == len(finished) and len(partial) == 5
    again = run_sweep(cfg, out, progress=False, log=lambda *_: None)
    assert (again.ran, again.skipped) == (5 - len(finished), len(finished))
    assert all((out / "trials" / name).read_text() == text for name, text in finished.items())
    assert (again.results.status == "ok").all()
    assert run_sweep(cfg, out, progress=False, log=lambda *_: None).ran == 0


@pytest.fixture(scope="module")
def local_smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke-local")
    assert (
        main(["sweep", str(SMOKE), "--backend", "local", "--out", str(out), "--no-progress"]) == 0
    )
    return out


@pytest.mark.ray
def test_ray_backend_gives_the_local_numbers_trial_by_trial(local_smoke, tmp_path):
    ray = need_ray()
    out = tmp_path / "ray"
    args = ["sweep", str(SMOKE), "--backend", "ray", "--num-cpus", "2", "--out", str(out)]
    assert main([*args, "--no-progress"]) == 0
    assert not ray.is_initialized()  # the local Ray started for the command is stopped with it
    local, remote = load_results(local_smoke), load_results(out)
    for df in (local, remote):
        assert {"method", "forget", "seed", "Q", "U", "QU", "status"} <= set(df.columns)
        assert (df.status == "ok").all() and len(df) == 3
    merged = local.merge(remote, on="key", suffixes=("_local", "_ray"))
    assert len(merged) == 3
    for m in ("Q", "U", "QU"):
        assert (merged[f"{m}_local"] == merged[f"{m}_ray"]).all(), merged[
            [f"{m}_local", f"{m}_ray"]
        ]
    assert merged.U_local.nunique() > 1  # the methods differ: not a constant compared with itself
    again = run_sweep(SMOKE, out, backend="ray", num_cpus=2, progress=False, log=lambda *_: None)
    assert (
        again.ran == 0 and again.skipped == 3 and not ray.is_initialized()
    )  # Ray not even started
    assert json.loads((out / "plan.json").read_text()) == list(local.key)


class FakeRay:
    """Just enough of the `ray` module to drive RayBackend without starting Ray: each task "returns" a row
    for its spec, or raises like a crashed worker; `interrupt_after` raises KeyboardInterrupt in ray.wait."""

    def __init__(self, gpus=0, cpus=2, crash=(), interrupt_after=None):
        self.resources = {"CPU": cpus, **({"GPU": gpus} if gpus else {})}
        self.crash, self.interrupt_after = set(crash), interrupt_after
        self.inited, self.options, self.cancelled, self.waits = False, None, [], 0

    def is_initialized(self):
        return self.inited

    def init(self, **kwargs):
        self.inited = True

    def shutdown(self):
        self.inited = False

    def cluster_resources(self):
        return self.resources

    def remote(self, fn):
        fake = self

        class Task:
            def options(self, **kw):
                fake.options = kw
                return self

            def remote(self, spec):
                return Ref(spec)

        return Task()

    def wait(self, refs, num_returns=1):
        self.waits += 1
        if self.interrupt_after is not None and self.waits > self.interrupt_after:
            raise KeyboardInterrupt
        return refs[:1], refs[1:]

    def get(self, ref):
        if ref.spec["method"] in self.crash:
            raise RuntimeError("The worker died unexpectedly (killed for memory)")
        return {"key": ref.spec["key"], "method": ref.spec["method"], "status": "ok"}

    def cancel(self, ref, force=False):
        self.cancelled.append(ref.spec["key"])


class Ref:
    """A fake object ref: hashable, holding the task's spec."""

    def __init__(self, spec):
        self.spec = spec


def _ray_backend(monkeypatch, fake, **resources):
    from kt_harness.sweep import ray_backend

    monkeypatch.setattr(ray_backend, "import_ray", lambda: fake)
    return ray_backend.RayBackend({"cpus": 1, "gpus": "auto", **resources})


def test_ray_backend_asks_one_gpu_per_trial_on_a_gpu_cluster_else_cpus(monkeypatch):
    cfg = parse_config({**TINY, "methods": ["ga", "nhl_kl"]})
    specs = expand(cfg, resolve_requests(cfg))
    for fake, want, slots in [
        (FakeRay(gpus=4, cpus=64), dict(num_cpus=2, num_gpus=1), 4),
        (FakeRay(gpus=0, cpus=8), dict(num_cpus=2, num_gpus=0), 4),
    ]:
        backend = _ray_backend(monkeypatch, fake, cpus=2)
        rows = []
        backend.run(specs, lambda n: None, rows.append)
        assert {k: fake.options[k] for k in want} == want and fake.options["max_retries"] == 0
        assert backend.slots == slots and [r["key"] for r in rows] == [s.key for s in specs]
        backend.stop()
        assert not fake.inited
    with pytest.raises(RuntimeError, match="no GPU"):
        _ray_backend(monkeypatch, FakeRay(gpus=0), gpus=1).run(specs, print, print)


def test_ray_backend_records_a_crashed_worker_and_cancels_the_rest_on_ctrl_c(monkeypatch):
    cfg = parse_config({**TINY, "methods": ["ga", "nhl_kl", "npo_kl"]})
    specs = expand(cfg, resolve_requests(cfg))
    rows = []
    _ray_backend(monkeypatch, FakeRay(crash={"nhl_kl"})).run(specs, lambda n: None, rows.append)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok"]
    assert "worker died" in rows[1]["error"] and rows[1]["method"] == "nhl_kl"
    fake, rows = FakeRay(interrupt_after=1), []
    backend = _ray_backend(monkeypatch, fake)
    with pytest.raises(KeyboardInterrupt):
        backend.run(specs, lambda n: None, rows.append)
    assert len(rows) == 1 and fake.cancelled == [s.key for s in specs[1:]]
    backend.stop()
    assert not fake.inited
