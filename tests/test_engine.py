"""The run engine: same seed, same numbers as the engine it replaced (within a stated tolerance), and
evaluation of only what the caller asks for."""

import json
import os
from pathlib import Path

import pytest

from kt_lib.cache import RUNS_FILE  # the machine's file name, read before conftest's per-test file
from kt_lib.experiment import Experiment

REFERENCE = Path(__file__).parent / "data" / "engine_reference.json"
# The new engine computes the same functions in another float summation order (the text tower's shared
# prompt words once, the zero-shot heads over the trimmed context). 48 steps amplify rounding into an
# occasional flipped prediction: in domain (2240 test images) that moves Q/U/Q-U by < 0.01; OOD Q and U
# can flip one of a breed's 40 drawings (0.025 of Q) and zero-shot utility one of 300-400 images per family.
TOLERANCE = dict(Q=0.01, U=0.01, QU=0.01, drawing_Q=0.06, drawing_U=0.03, zero_shot_utility=0.03)


def _reference_runs():
    runs = json.loads(REFERENCE.read_text())["runs"]
    fast = [r for r in runs if r["method"] == "nhl_kl" and r["forget"] == ["Samoyed"]][:1]
    return runs if os.environ.get("KT_SLOW") == "1" else fast


@pytest.fixture(scope="module")
def experiments():
    return {}


@pytest.mark.parametrize(
    "ref", _reference_runs(), ids=lambda r: f"{r['method']}-{len(r['forget'])}-s{r['seed']}"
)
def test_same_seed_same_metrics_as_the_previous_engine(ref, experiments):
    """The reference rows were produced by the engine before this one (commit and command in the JSON),
    on the full test sets; the same settings and seed must give the same metrics within TOLERANCE."""
    key = tuple(ref["forget"])
    if key not in experiments:
        experiments[key] = Experiment(list(key), cache=None)  # computed here, never a cached row
    row = experiments[key].run(ref["method"], seed=ref["seed"], **ref["overrides"])
    for metric, tol in TOLERANCE.items():
        assert abs(row[metric] - ref[metric]) <= tol, (metric, row[metric], ref[metric])


def test_in_domain_scope_evaluates_only_q_and_u(world_model):
    """scope='in_domain' (what a panel needs) gives the full run's Q and U and nothing it did not
    measure; asking for the full scope afterwards adds the other parts to the same model's predictions."""
    model, tokenizer = world_model[:2]
    exp = Experiment(["Samoyed"], model=model, tokenizer=tokenizer, eval_per_class=4, num_steps=4)
    quick = exp.run("nhl_kl", scope="in_domain")
    assert quick["scope"] == "in_domain"
    assert "drawing_Q" not in quick and "zero_shot_utility" not in quick
    assert {r["domain"] for r in quick["per_concept"]} == {"photo"}
    full = exp.run("nhl_kl")
    assert full["scope"] == "all" and "drawing_Q" in full and "zero_shot_utility" in full
    for k in ("Q", "U", "QU"):
        assert full[k] == pytest.approx(quick[k])
    wide = exp.run("nhl_kl", seed=1)  # a full-scope row answers a panel's look-up
    assert exp.run("nhl_kl", scope="in_domain", seed=1)["scope"] == "all"
    assert wide["scope"] == "all"
    with pytest.raises(ValueError, match="scope"):
        exp.run("nhl_kl", scope="ood")


def test_machine_cache_shares_rows_across_processes(tmp_path, monkeypatch):
    """Two caches on the machine's run file (as two notebooks or a notebook and `kt unlearn` have): a row
    one appends is found by the other without reopening; a half-written line waits; a file another
    process rewrote is read anew."""
    import kt_lib.cache
    from kt_lib.cache import RunCache, machine_cache

    monkeypatch.setattr(kt_lib.cache, "RUNS_FILE", RUNS_FILE)
    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    a, b = machine_cache(), machine_cache()
    assert a.path == tmp_path / RUNS_FILE
    assert "k1" not in b
    a.put("k1", dict(Q=1.0))
    assert "k1" in b and b.get("k1") == dict(Q=1.0)
    line = RunCache._line("k2", dict(Q=0.5))
    with open(a.path, "a") as fh:
        fh.write(line[:10])  # a writer still mid-line
    assert "k2" not in b
    with open(a.path, "a") as fh:
        fh.write(line[10:])
    assert b.get("k2") == dict(Q=0.5) and len(b) == 2
    a.path.write_text(a._header() + "\n" + RunCache._line("k3", dict(Q=0.0)))  # rewritten
    assert "k3" in b and "k1" not in b


def test_notebooks_use_the_machine_cache(monkeypatch, tmp_path, world_model):
    """setup().experiment() with no cache argument (the notebooks' CACHE_FILE=None) is the machine's file."""
    import kt_lib.cache
    from kt_lib.notebook.setup import Setup
    from kt_lib.sources import world_source

    model, tokenizer = world_model[:2]
    source = world_source(eval_per_class=4)  # the world's pixels from the test cache
    monkeypatch.setattr(kt_lib.cache, "RUNS_FILE", RUNS_FILE)
    monkeypatch.setenv("KT_CACHE", str(tmp_path))  # runs go to a fresh machine cache
    tut = Setup(True, model, tokenizer, source, 2e-4)
    exp = tut.experiment(["Samoyed"], samples_per_class=5, num_steps=2)
    assert exp.cache.path == tmp_path / RUNS_FILE
    row = exp.run("nhl_kl", scope="in_domain")
    again = tut.experiment(["Samoyed"], samples_per_class=5, num_steps=2)
    assert again.cache.get(again.key(scope="in_domain", method="nhl_kl"))["Q"] == row["Q"]
