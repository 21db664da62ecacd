"""Reruns are free: `Experiment.run` and `kt unlearn` answer settings that ran before from this machine's run
cache without training; the model, asked for (`Experiment.result`), is loaded from beside the cache, or trained
again when it is not stored; `cache=None` and `--no-cache` opt out. (conftest gives each test its own machine run cache.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
import torch

import kt_lib.experiment
from kt_lib.cache import machine_cache

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
FAST = dict(num_steps=2, samples_per_class=4, eval_per_class=4)


class Trainings:
    """Counts calls of the engine's `unlearn`, which every run and every model built on demand goes through."""

    def __init__(self, monkeypatch):
        self.n, self._unlearn = 0, kt_lib.experiment.unlearn
        monkeypatch.setattr(kt_lib.experiment, "unlearn", self)

    def __call__(self, *args, **kwargs):
        self.n += 1
        return self._unlearn(*args, **kwargs)


def _experiment(world_model, **kw):
    model, tokenizer, _ = world_model
    return kt_lib.experiment.Experiment(["Samoyed"], model, tokenizer, **FAST, **kw)


def test_a_new_experiment_answers_from_the_machine_cache_without_training(world_model, monkeypatch):
    trained = Trainings(monkeypatch)
    first = _experiment(world_model)
    assert first.cache.path == machine_cache().path  # the default
    row = first.run("nhl_kl")
    assert trained.n == 1 and "result" not in row
    again = _experiment(world_model)  # as a new process would
    assert again.run("nhl_kl") == row and trained.n == 1
    assert again.compare(["nhl_kl"]).Q.tolist() == [row["Q"]] and trained.n == 1


def test_cache_none_opts_out_and_trains(world_model, monkeypatch):
    _experiment(world_model).run("nhl_kl")  # in the machine cache
    trained = Trainings(monkeypatch)
    private = _experiment(world_model, cache=None)
    assert private.cache.path is None
    row = private.run("nhl_kl")
    assert trained.n == 1
    assert private.run("nhl_kl") == row and trained.n == 1  # its own memory still answers


def test_the_model_is_trained_on_demand_once_and_matches_the_row(world_model, monkeypatch):
    row = _experiment(world_model).run("nhl_kl")
    trained = Trainings(monkeypatch)
    again = _experiment(world_model)
    cached = again.run("nhl_kl", scope="in_domain")  # answered by the full-scope row
    assert cached["scope"] == "all" and trained.n == 0
    result = again.result(cached)  # stored beside the cache by the first: loaded, not trained
    assert trained.n == 0 and again.result(again.run("nhl_kl")) is result  # then kept in memory
    shutil.rmtree(machine_cache().path.parent / "models")
    rebuilt = _experiment(world_model).result(
        cached
    )  # nothing stored: trained again, the same model
    assert trained.n == 1
    for (name, a), b in zip(rebuilt.model.state_dict().items(), result.model.state_dict().values()):
        assert torch.equal(a, b), name
    history = pd.DataFrame(row["history"])
    pd.testing.assert_frame_equal(
        result.history, history, check_dtype=False
    )  # same settings, same run
    config = {k: row.get(k, v) for k, v in asdict(again.config("nhl_kl")).items()}
    assert config == result.info["config"]  # how `kt unlearn` records it from a cached row
    assert row["selected_epoch"] == result.info["selected_epoch"]
    with pytest.raises(ValueError, match="Experiment.run"):
        again.result({"Q": 1.0})


def test_kt_unlearn_reruns_from_the_cache_and_no_cache_trains(
    world_model, tmp_path, monkeypatch, capsys
):
    from kt_harness.cli import main

    argv = ["unlearn", "--forget", "Samoyed", "--steps", "2", "--samples-per-class", "4"]
    argv += ["--eval-per-class", "4"]
    trained = Trainings(monkeypatch)
    assert main([*argv, "--json", str(tmp_path / "a.json")]) == 0
    assert trained.n == 1 and "from the run cache" not in capsys.readouterr().out
    assert main([*argv, "--json", str(tmp_path / "b.json")]) == 0
    assert trained.n == 1 and "from the run cache" in capsys.readouterr().out
    a, b = (json.loads((tmp_path / f"{x}.json").read_text()) for x in "ab")
    assert a == b  # the same record, scores, settings and collateral profile
    assert (
        main([*argv, "--save", str(tmp_path / "u.safetensors")]) == 0
    )  # the model: stored, loaded
    assert trained.n == 1 and (tmp_path / "u.safetensors").exists()
    assert main([*argv, "--no-cache"]) == 0
    assert trained.n == 2
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["unlearn", "--help"])
    assert "--no-cache" in capsys.readouterr().out


def _cli_args(*extra):
    from kt_harness.cli import build_parser

    return build_parser().parse_args(["unlearn", "--forget", "Samoyed", *extra])


def test_a_request_id_changes_with_the_world_files_and_skips_what_needs_the_model(
    tmp_path, monkeypatch
):
    from kt_harness.cli.unlearn import request_id

    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    pool = tmp_path / "world-abc-test.ktc"
    pool.write_bytes(b"pixels")
    first = request_id(_cli_args())
    assert first is not None and request_id(_cli_args()) == first
    assert request_id(_cli_args("--steps", "3")) != first
    os.utime(pool, ns=(1, 1))  # another world rendered in its place: another request
    assert request_id(_cli_args()) != first
    for extra in (
        ["--no-cache"],
        ["--save", "x.safetensors"],
        ["--attack", "relearn"],
        ["--audit", "ks"],
    ):
        assert request_id(_cli_args(*extra)) is None
    assert request_id(_cli_args("--pretrained", "w.safetensors")) is None
    monkeypatch.setenv("KT_METHODS", str(tmp_path / "m.py"))
    assert request_id(_cli_args()) is None


def test_a_kt_unlearn_rerun_loads_no_model_and_its_key_is_the_experiments(
    world_model, tmp_path, monkeypatch
):
    """The first run records the key Experiment computed; a rerun in a new process answers from it and the
    run cache's row without importing torch, and writes the same JSON."""
    import kt_lib.cache
    from kt_harness.cli import main
    from kt_lib.cachefile import cache_dir

    cache = tmp_path / "cache"
    cache.mkdir()
    for pool in cache_dir().glob("world-*"):  # the rendered world, not rendered again
        (cache / pool.name).symlink_to(pool)
    monkeypatch.setenv("KT_CACHE", str(cache))
    monkeypatch.setattr(kt_lib.cache, "RUNS_FILE", "runs.jsonl")  # where a new process looks
    argv = ["unlearn", "--forget", "Samoyed", "--steps", "2", "--samples-per-class", "4"]
    argv += ["--eval-per-class", "4"]
    assert main([*argv, "--json", str(tmp_path / "a.json")]) == 0
    (memo,) = (cache / "unlearn-requests").glob("*.json")
    assert json.loads(memo.read_text())["key"] == _experiment(world_model).key()
    child = (
        "import json, sys\nfrom kt_harness.cli import main\n"
        f"rc = main({[*argv, '--json', str(tmp_path / 'b.json')]!r})\n"
        "print(json.dumps([rc, [m for m in ('torch', 'open_clip', 'torchvision') if m in sys.modules]]))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "from the run cache" in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, []]
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_a_memo_that_does_not_fit_goes_the_whole_way(tmp_path, monkeypatch):
    from kt_harness.cli.unlearn import _memo_path, answer_from_memo, save_memo

    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    args = _cli_args()
    assert not answer_from_memo(args, "r1")  # no memo
    save_memo("r1", dict(key="k"))
    assert _memo_path("r1").exists() and not answer_from_memo(args, "r1")  # no row for its key
    machine_cache().put("k", dict(Q=1.0))
    assert not answer_from_memo(args, "r1")  # a row, but a memo without the record's parts
