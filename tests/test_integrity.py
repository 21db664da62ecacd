"""Run integrity flags: each flag fires on the failure it names and stays quiet otherwise; flags reach rows,
sweep tables and the aggregated leaderboard. (GA's collapse flag on a real run: tests/test_collateral.py.)"""

import copy
import warnings

import pandas as pd
import pytest
import torch

from kt_lib import integrity
from kt_lib.integrity import RunIntegrityWarning, Thresholds, check_run, codes
from kt_lib.unlearn import UnlearnResult


def _result(model, stopped=None, **config):
    return UnlearnResult(
        model, pd.DataFrame(), 0.0, stopped, dict(config=dict(method="nhl_kl", lr=2e-4, **config))
    )


@pytest.fixture
def pair():
    torch.manual_seed(0)
    original = torch.nn.Linear(4, 3)
    moved = copy.deepcopy(original)
    with torch.no_grad():
        moved.weight[0, 0] += 1e-3
    return original, moved


GOOD = dict(method="nhl_kl", Q=0.95, U=0.88, zero_shot_utility=0.93)


def test_a_healthy_run_has_no_flags_and_no_warning(pair):
    original, moved = pair
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunIntegrityWarning)
        assert check_run(GOOD, _result(moved), original) == []


@pytest.mark.parametrize(
    "scores, expected",
    [
        (dict(U=0.14), "U 0.14 < 0.50"),
        (dict(zero_shot_utility=0.36), "zero-shot utility 0.36 < 0.50"),
    ],
)
def test_utility_collapse(pair, scores, expected):
    original, moved = pair
    with pytest.warns(RunIntegrityWarning, match="utility_collapse"):
        flags = check_run({**GOOD, **scores}, _result(moved), original)
    assert codes(flags) == ["utility_collapse"] and expected in flags[0]


def test_nothing_forgotten_and_thresholds_are_settings(pair):
    original, moved = pair
    row = {**GOOD, "Q": 0.1}
    with pytest.warns(RunIntegrityWarning):
        assert codes(check_run(row, _result(moved), original)) == ["nothing_forgotten"]
    loose = Thresholds(min_quality=0.05, min_utility=0.9)
    flags = check_run(row, _result(moved), original, thresholds=loose, warn=False)
    assert codes(flags) == ["utility_collapse"]  # U 0.88 < 0.9, Q 0.1 >= 0.05


def test_unchanged_model(pair):
    original, moved = pair
    assert integrity.unchanged(original, copy.deepcopy(original))
    assert not integrity.unchanged(original, moved)
    flags = check_run(GOOD, _result(copy.deepcopy(original)), original, warn=False)
    assert codes(flags) == ["unchanged_model"]


def test_nan_stop_on_a_real_run(world_model, monkeypatch):
    """A loss that turns NaN on the first step: the trainer stops, keeps the original weights, and the run's
    row says both (nan_stop, unchanged_model), in the row and as a warning."""
    import kt_lib.step as U
    from kt_lib.experiment import Experiment

    real = U.compute_loss

    def nan_loss(method, inputs, cfg):
        loss, parts = real(method, inputs, cfg)
        return loss * float("nan"), dict(parts, loss=float("nan"))

    monkeypatch.setattr(U, "compute_loss", nan_loss)
    model, tokenizer, _ = world_model
    exp = Experiment(
        ["Samoyed"], model, tokenizer, samples_per_class=4, eval_per_class=2, num_epochs=1
    )
    with pytest.warns(RunIntegrityWarning, match="nan_stop"):
        row = exp.run("nhl_kl")
    assert {"nan_stop", "unchanged_model"} <= set(codes(row["flags"])), row["flags"]
    assert row["stopped"]


def test_preset_drift_names_every_differing_setting(pair):
    original, moved = pair
    preset = dict(
        lr=1e-7, num_epochs=8, templates=("a photo of a {}.",), samples_per_class=30, goal="fine"
    )
    config = dict(lr=2e-4, num_epochs=8, templates=["a photo of a {}."], goal="fine")
    flags = integrity.preset_drift(config, preset, "paper")
    assert codes(flags) == ["preset_drift", "preset_drift"]
    assert "lr = 0.0002, the paper preset has 1e-07" in flags[0]
    assert "samples_per_class is not set" in flags[1]
    assert (
        integrity.preset_drift(dict(lr=1e-7 * (1 + 1e-12)), dict(lr=1e-7)) == []
    )  # float round-off
    row = {**GOOD, "samples_per_class": 30}
    flags = check_run(
        row, _result(moved, num_epochs=8), original, preset=dict(lr=1e-7, num_epochs=8), warn=False
    )
    assert len(flags) == 1 and flags[0].startswith("preset_drift: lr")


def test_identical_results_and_the_leaderboard_marks(pair):
    from kt_lib.notebook import leaderboard

    runs = pd.DataFrame(
        dict(
            method=["ga", "nhl_kl", "npo_kl", "ga", "nhl_kl", "npo_kl"],
            forget=["a"] * 3 + ["b"] * 3,
            seed=[0] * 6,
            Q=[1.0, 0.95, 0.95, 1.0, 0.9, 0.97],
            U=[0.14, 0.88, 0.88, 0.2, 0.85, 0.86],
            QU=[0.25, 0.91, 0.91, 0.33, 0.87, 0.91],
            flags=[
                ["utility_collapse: U 0.14 < 0.50"],
                [],
                [],
                ["utility_collapse: U 0.20 < 0.50"],
                [],
                [],
            ],
        )
    )
    same = integrity.identical_results(runs)
    assert same.notna().tolist() == [False, True, True, False, False, False]
    assert same[1] == "identical_results: same scores as npo_kl"
    board = leaderboard.aggregate(runs, "method").set_index("method")
    assert board.flagged.to_dict() == {"ga": 2, "nhl_kl": 1, "npo_kl": 1}
    assert board.loc["ga", "flags"] == "utility_collapse"
    assert board.loc["nhl_kl", "flags"] == "identical_results"
    # tables from caches written before flags existed: no column, nothing flagged, nothing crashes
    old = leaderboard.aggregate(runs.drop(columns="flags").iloc[[0, 1, 3, 4]], "method")
    assert old.flagged.tolist() == [0, 0] and codes(float("nan")) == []


def test_a_run_under_a_preset_is_flagged_for_every_setting_it_changed(world_model):
    """Experiment(preset="paper"): the settings a run overrides are flagged as drift, the preset's own are not."""
    from kt_lib.experiment import Experiment

    model, tokenizer, _ = world_model
    exp = Experiment(
        ["Samoyed"], model, tokenizer, samples_per_class=2, eval_per_class=2, preset="paper"
    )
    with pytest.warns(RunIntegrityWarning, match="preset_drift"):
        changed = exp.run("nhl_kl", num_epochs=1, margin=3.0)
    drift = sorted(f.split(" = ")[0] for f in changed["flags"] if f.startswith("preset_drift"))
    # exactly the two overridden settings: the preset's own lr, optimiser, eps, ... are not flagged
    assert drift == ["preset_drift: margin", "preset_drift: num_epochs"], changed["flags"]
