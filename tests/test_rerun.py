"""Reruns are free: `Experiment.run` and `kt unlearn` answer settings that ran before from this machine's run
cache without training; the model is trained again only when asked for (`Experiment.result`); `cache=None`
and `--no-cache` opt out. (conftest gives each test its own machine run cache.)"""

from __future__ import annotations

import json
from dataclasses import asdict

import pandas as pd
import pytest
import torch

import kt_lib.experiment
from kt_lib.cache import machine_cache

torch.set_num_threads(1)
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
    result = again.result(cached)
    assert trained.n == 1 and again.result(again.run("nhl_kl")) is result  # kept: not trained again
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
    assert main([*argv, "--save", str(tmp_path / "u.safetensors")]) == 0  # the model: on demand
    assert trained.n == 2 and (tmp_path / "u.safetensors").exists()
    assert main([*argv, "--no-cache"]) == 0
    assert trained.n == 3
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["unlearn", "--help"])
    assert "--no-cache" in capsys.readouterr().out
