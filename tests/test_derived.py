"""Results derived from an unlearned model (kt_lib.derived): cached by the run's key, trained again only on a miss."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from kt_lib.derived import Kept, _pack, _unpack
from kt_lib.eval import recovery
from kt_lib.eval.collateral import profile
from kt_lib.eval.probe import knowledge_probe
from kt_lib.unlearn import UnlearnConfig

torch.set_num_threads(1)
FAST = dict(num_steps=2, samples_per_class=4)


def _experiment(world_model, cache):
    from kt_lib.experiment import Experiment

    model, tokenizer, _ = world_model
    return Experiment(["Samoyed"], model, tokenizer, eval_per_class=4, cache=cache, **FAST)


class _Counted:
    """Counts the trainings from its creation on: calls of the engine's `unlearn` that every Experiment
    run goes through (kt_lib.experiment's name for it)."""

    def __init__(self, monkeypatch):
        import kt_lib.experiment

        self.n, self._unlearn = 0, kt_lib.experiment.unlearn
        monkeypatch.setattr(kt_lib.experiment, "unlearn", self)

    def __call__(self, *args, **kwargs):
        self.n += 1
        return self._unlearn(*args, **kwargs)


def test_frames_round_trip_with_index_columns_and_dtypes():
    cols = pd.MultiIndex.from_tuples([("forget", "after"), ("forget", "before")], names=[None, "w"])
    probe = pd.DataFrame(
        [[0.5, np.nan], [1.0, 0.25]], index=pd.Index(["a", "b"], name="p"), columns=cols
    )
    tidy = pd.DataFrame(
        dict(step=[0, 2], ok=[True, False], name=["x", "y"], back=pd.array([4, None], "Int64"))
    )
    for df in (probe, tidy):
        pd.testing.assert_frame_equal(_unpack(_pack(df)), df)
    assert _unpack(_pack({"a": [1, 2]})) == {"a": [1, 2]}


def test_a_derived_result_is_found_by_another_experiment_without_training(
    world_model, tmp_path, monkeypatch
):
    path = tmp_path / "runs.jsonl"
    exp = _experiment(world_model, path)
    trained = _Counted(monkeypatch)
    row = exp.run("nhl_kl")
    calls = []

    def compute(model):
        calls.append(model)
        return pd.DataFrame(
            dict(norm=[float(sum(p.detach().double().norm() for p in model.parameters()))])
        )

    first = exp.derive(row, "norm", compute)
    assert trained.n == 1 and len(calls) == 1  # the kept model: no second training
    assert calls[0] is exp.result(row).model
    again = _experiment(world_model, path)  # a new session on the same cache file
    retrained = _Counted(monkeypatch)
    row2 = again.run("nhl_kl")
    assert row2["key"] == row["key"] and retrained.n == 0
    pd.testing.assert_frame_equal(again.derive(row2, "norm", compute), first)
    assert retrained.n == 0 and len(calls) == 1
    other = again.derive(
        row2, "norm", compute, variant=2
    )  # other parameters: computed on the model
    assert (
        retrained.n == 0 and len(calls) == 2
    )  # that the first session stored beside the cache file
    assert other.norm.iloc[0] == first.norm.iloc[0]  # the same weights, to the bit
    shutil.rmtree(
        tmp_path / "models"
    )  # no stored model: the run is trained again, to the same weights
    third = _experiment(world_model, path)
    again_trained = third.derive(third.run("nhl_kl"), "norm", compute, variant=3)
    assert retrained.n == 1 and len(calls) == 3
    assert again_trained.norm.iloc[0] == pytest.approx(first.norm.iloc[0], rel=1e-6)


def test_sources_rows_models_and_bad_input(world_model, tmp_path):
    exp = _experiment(world_model, None)
    row = exp.run("nhl_kl")
    assert exp.derive.key(row) == "run:" + row["key"]
    unlearned = exp.result(row).model
    assert exp.derive.key(exp.model) != exp.derive.key(unlearned)  # keyed by the weights
    with pytest.raises(TypeError, match="run row"):
        exp.derive.key({"Q": 1.0})
    with pytest.raises(ValueError, match="Experiment.run"):
        exp.derive({"Q": 1.0, "key": "x"}, "norm", lambda m: 0)


def test_probe_profile_and_curves_accept_a_row_and_are_cached(world_model, tmp_path, monkeypatch):
    exp = _experiment(world_model, tmp_path / "runs.jsonl")
    row = exp.run("nhl_kl")
    model = exp.result(row).model
    pd.testing.assert_frame_equal(knowledge_probe(exp, row), knowledge_probe(exp, model))
    pd.testing.assert_frame_equal(profile(exp, row), profile(exp, model), check_dtype=False)
    n = len(exp.cache)
    kw = dict(ks=[1], attacks=["forget"], steps=[0, 1])
    first = recovery.curves(exp, {"original": exp.model, "nhl_kl": row}, **kw)
    assert len(exp.cache) == n + 2  # one cached curve per model
    again = _experiment(world_model, tmp_path / "runs.jsonl")
    counted = _Counted(monkeypatch)
    row2 = again.run("nhl_kl")
    pd.testing.assert_frame_equal(
        recovery.curves(again, {"original": again.model, "nhl_kl": row2}, **kw), first
    )
    assert counted.n == 0


def test_kept_models_are_bounded_by_bytes():
    class R:
        def __init__(self):
            self.model = torch.nn.Linear(10, 10)  # 110 floats = 440 bytes

    kept = Kept(max_bytes=1000)
    for key in "abc":
        kept.put(key, R())
    assert kept.get("a") is None and kept.get("b") is not None and kept.get("c") is not None
    tiny = Kept(max_bytes=1)
    tiny.put("x", R())
    assert tiny.get("x") is not None  # the newest is always kept


def test_persisted_predictions_are_found_by_another_evaluator_without_encoding(
    world_model, tmp_path, monkeypatch
):
    """`Evaluator.persist`: the original model's predictions, computed by one evaluator (one notebook),
    are read by a fresh evaluator on the same test data (another notebook) from the shared cache file,
    equal and without encoding an image; other templates are not answered from them."""
    import kt_lib.eval.evaluator as evaluator_mod
    from kt_lib.cache import RunCache
    from kt_lib.sources import world_source

    model, tokenizer, _ = world_model
    first = world_source(eval_per_class=3).evaluator
    first.persist(model, RunCache(tmp_path / "runs.jsonl"))
    before = first.accuracies(model, tokenizer, ["Samoyed"])

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded images although the predictions were stored")

    second = world_source(eval_per_class=3).evaluator
    second.persist(model, RunCache(tmp_path / "runs.jsonl"))
    monkeypatch.setattr(evaluator_mod, "encode_images", no_encoding)
    assert second.accuracies(model, tokenizer, ["Samoyed"]) == before
    moved = world_source(eval_per_class=3).evaluator
    moved.persist(model, RunCache(tmp_path / "runs.jsonl"))
    ds = moved.domains[moved.in_domain]
    moved.domains = dict(moved.domains)
    moved.domains[moved.in_domain] = type(ds)(ds.images, ds.fine, ds.coarse, ("a {}.",))
    with pytest.raises(AssertionError, match="encoded images"):
        moved.accuracies(model, tokenizer, ["Samoyed"], scope="in_domain")


def test_stored_models_load_exactly_are_bounded_and_damage_is_retrained(tmp_path, monkeypatch):
    import kt_lib.derived as derived

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"the newest {derived.STORE_BYTES >> 20} MB are kept" in readme  # the README's figure

    class R:
        def __init__(self, seed):
            torch.manual_seed(seed)
            self.model, self.seconds, self.stopped = torch.nn.Linear(64, 64), 1.5, None
            self.info, self.efficiency = {"config": asdict(UnlearnConfig(towers="image"))}, {}
            self.history = pd.DataFrame(dict(step=[0, 1], loss=[2.0, 1.0]))

    kept = Kept(folder=tmp_path)
    base = torch.nn.Linear(64, 64)
    one = R(0)
    kept.put("one", one)
    loaded = Kept(folder=tmp_path).load(
        "one", base
    )  # another process: the weights, in a copy of `base`
    assert loaded.model is not base and torch.equal(loaded.model.weight, one.model.weight)
    pd.testing.assert_frame_equal(loaded.history, one.history)
    assert (loaded.seconds, loaded.stopped, loaded.info) == (
        1.5,
        None,
        one.info,
    )  # tuples stay tuples
    assert kept.load("two", base) is None  # never stored
    file = tmp_path / "one.safetensors"
    file.write_bytes(file.read_bytes()[:-64] + bytes(64))  # damaged bytes: deleted, not loaded
    assert kept.load("one", base) is None and not file.exists()
    kept.put("a", R(0))
    size = (tmp_path / "a.safetensors").stat().st_size
    monkeypatch.setattr(derived, "STORE_BYTES", 2 * size + size // 2)  # room for two files
    for i, key in enumerate("bc"):
        kept.put(key, R(i))
    assert sorted(f.stem for f in tmp_path.glob("*.safetensors")) == ["b", "c"]  # the oldest went
    monkeypatch.setattr(derived, "STORE_MODEL_BYTES", 64 * 65 * 4 - 1)  # a model too large to store
    kept.put("big", R(3))
    assert not (tmp_path / "big.safetensors").exists() and kept.get("big") is not None
    assert Kept(folder=None).load("b", base) is None  # no folder (cache=None): memory only
