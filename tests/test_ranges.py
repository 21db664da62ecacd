"""Every float setting of a run is finite and in range, checked once (UnlearnConfig, via kt_lib.ranges), with a
one-line error naming the setting, the value and the range: on the command line, in a notebook's
Experiment and in a sweep YAML."""

import math
from dataclasses import fields

import pytest

from kt_harness.cli import main
from kt_lib.ranges import FLOAT_RANGES, describe
from kt_lib.unlearn import UnlearnConfig

pytestmark = pytest.mark.unit


def _outside(name: str) -> float:
    """A value just outside the range of `name` (below its lower end)."""
    lo, lo_in, _, _ = FLOAT_RANGES[name]
    return lo - 0.5 if lo_in else lo


def test_every_float_field_of_the_config_has_a_range():
    floats = {f.name for f in fields(UnlearnConfig) if "float" in str(f.type)}
    assert floats == set(FLOAT_RANGES)


@pytest.mark.parametrize("name", sorted(FLOAT_RANGES))
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "outside", "text"])
def test_non_finite_or_out_of_range_values_are_refused_by_name(name, bad):
    value = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "text": "0.1"}.get(bad)
    value = _outside(name) if bad == "outside" else value
    with pytest.raises(ValueError) as info:
        UnlearnConfig(**{name: value})
    msg = str(info.value)
    assert msg == f"{name} must be a finite number {describe(name)}, got {value!r}", msg
    assert "\n" not in msg


def test_the_ends_of_the_ranges_and_the_ablation_zeros_are_legal():
    cfg = UnlearnConfig(margin=0, alpha_coarse=0.0, alpha_fine=0.0, task_vector_lambda=0.0)
    assert (cfg.margin, cfg.alpha_coarse, cfg.alpha_fine) == (0, 0, 0)
    UnlearnConfig(salun_fraction=1.0, weight_decay=0.0, lr=None, beta=1e-3, holdout_fraction=0.99)
    assert [describe(n) for n in ("lr", "margin", "salun_fraction", "holdout_fraction")] == [
        "> 0",
        ">= 0",
        "in (0, 1]",
        "in (0, 1)",
    ]


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--margin", "nan", "margin must be a finite number >= 0, got nan"),
        ("--margin", "-1", "margin must be a finite number >= 0, got -1.0"),
        ("--lr", "inf", "lr must be a finite number > 0, got inf"),
        ("--alpha-coarse", "-0.5", "alpha_coarse must be a finite number >= 0, got -0.5"),
        ("--alpha-fine", "nan", "alpha_fine must be a finite number >= 0, got nan"),
        ("--beta", "0", "beta must be a finite number > 0, got 0.0"),
        ("--ridge", "-1", "ridge must be a finite number >= 0, got -1.0"),
        ("--ridge", "nan", "ridge must be a finite number >= 0, got nan"),
    ],
)
def test_cli_refuses_a_bad_float_in_one_line_before_loading_the_model(
    flag, value, message, capsys, monkeypatch
):
    import kt_lib.models

    def never(*a, **k):
        raise AssertionError("the model was loaded before the settings were checked")

    monkeypatch.setattr(kt_lib.models, "load_model", never)
    assert main(["unlearn", "--forget", "Samoyed", flag, value]) == 2
    err = capsys.readouterr().err
    assert err == f"kt unlearn: error: {message}\n", err


def test_a_notebook_experiment_checks_its_settings_before_loading_anything(monkeypatch):
    """Notebooks build runs with setup(...).experiment(...) -> Experiment -> UnlearnConfig."""
    import kt_lib.models
    from kt_lib.experiment import Experiment

    monkeypatch.setattr(kt_lib.models, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    with pytest.raises(ValueError, match=r"^margin must be a finite number >= 0, got nan$"):
        Experiment(["Samoyed"], margin=math.nan)
    with pytest.raises(ValueError, match=r"^lr must be a finite number > 0, got -0.0002$"):
        Experiment(["Samoyed"], lr=-2e-4)


def test_sweep_yaml_nan_is_a_config_error_before_any_model_loads(tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "requests: [Samoyed]\nmethods: [nhl_kl]\n"
        "settings: {num_steps: 1, samples_per_class: 3}\ngrid: {margin: [2.0, .nan]}\n"
    )
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "kt sweep: error: grid.margin[1]: margin must be a finite number >= 0, got nan\n"
    ), err
