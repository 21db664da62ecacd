"""A method is one file: a Method subclass defined outside the package, registered, and run through the
three ways in (Experiment, `kt unlearn --method`, `kt sweep`) without touching the loop or any registry."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from procs import kt, kt_sweep

from kt_lib.methods import METHODS, get_method, load

ROOT = Path(__file__).resolve().parents[1]
SOURCE = '''
from kt_lib import losses as L
from kt_lib.methods import Method, register


@register
class HalfAscent(Method):
    """Gradient ascent at half strength, with a hook that counts the steps it saw."""

    name = "half_ascent"
    description = "0.5 * -CE on the forgotten breeds (a test method)"
    bounded = False

    def loss(self, x, cfg):
        return {"half_ga": 0.5 * L.ga(x.fine_logits, x.fine_labels)}

    def prepare(self, run):
        run.info["hook_steps"] = 0

    def after_step(self, run):
        run.info["hook_steps"] += 1
'''


@pytest.fixture(scope="module")
def method_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("plugin") / "half_ascent.py"
    path.write_text(SOURCE)
    return path


EXPERIMENT = dict(forget=["Samoyed"], eval_per_class=3, samples_per_class=2)


def _env(method_file):
    return dict(os.environ, KT_METHODS=str(method_file), PYTHONPATH=str(ROOT))


def test_an_outside_method_registers_and_runs_through_experiment(method_file, exp):
    assert "half_ascent" not in METHODS
    load(str(method_file))
    load(str(method_file))  # loading twice registers once
    assert get_method("half_ascent").description.startswith("0.5")
    result = exp.unlearn("half_ascent", num_steps=4)
    assert result.info["hook_steps"] == 4 and list(result.history["half_ga"].notna()) == [True] * 4
    row = exp.run("half_ascent", num_steps=4)
    assert row["method"] == "half_ascent" and 0 <= row["Q"] <= 1 and row["steps"] == 4


def test_an_outside_method_runs_through_kt_unlearn(method_file, tmp_path):
    out = tmp_path / "run.json"
    cmd = kt("unlearn", "--method", "half_ascent", "--forget", "Samoyed", "--samples-per-class", 2,
             "--eval-per-class", 3, "--steps", 4, "--json", out)  # fmt: skip
    done = subprocess.run(cmd, env=_env(method_file), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["method"] == "half_ascent"
    listed = subprocess.run(
        kt("unlearn", "--list-methods"),
        env=_env(method_file), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "half_ascent" in listed.stdout


def test_an_outside_method_runs_through_kt_sweep(method_file, tmp_path):
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(
        yaml.safe_dump(
            dict(
                name="plugin",
                data=dict(eval_per_class=3),
                requests=[dict(name="A", forget=["Samoyed"])],
                methods=["half_ascent"],
                settings=dict(num_steps=4, samples_per_class=2),
            )
        )
    )
    out = tmp_path / "out"
    cmd = kt_sweep(cfg, out)
    done = subprocess.run(cmd, env=_env(method_file), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(p.read_text()) for p in (out / "trials").glob("*.json")]
    assert len(rows) == 1 and rows[0]["method"] == "half_ascent", rows
    assert "| half_ascent |" in (out / "leaderboard.md").read_text()


def test_without_the_file_the_name_is_unknown_and_says_how_to_register(tmp_path):
    code = "from kt_lib.methods import get_method; get_method('half_ascent')"
    env = {k: v for k, v in os.environ.items() if k != "KT_METHODS"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "KT_METHODS" in done.stderr
