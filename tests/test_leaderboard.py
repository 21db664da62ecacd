"""kt_lib.notebook.leaderboard: intervals as text, aggregation (t-intervals: test_stats.py), cache keying and reuse."""

import math

import pandas as pd
import pytest

from kt_lib.notebook import leaderboard


def test_format_ci_in_percent_and_without_an_interval():
    assert leaderboard.format_ci(0.952, 0.013) == "95.2 ± 1.3"
    assert leaderboard.format_ci(0.5, float("nan")) == "50.0"


def test_aggregate_groups_in_first_seen_order():
    df = pd.DataFrame(
        dict(
            method=["nhl_kl", "nhl_kl", "ga", "ga"],
            level=["easy", "hard"] * 2,
            Q=[1.0, 0.9, 1.0, 1.0],
            U=[0.9, 0.8, 0.2, 0.1],
            QU=[0.95, 0.85, 0.3, 0.2],
        )
    )
    agg = leaderboard.aggregate(df, "method")
    assert list(agg.method) == ["nhl_kl", "ga"]
    assert agg.set_index("method").QU.to_dict() == pytest.approx({"nhl_kl": 0.9, "ga": 0.25})
    assert agg.QU_ci.iloc[0] == pytest.approx(12.7062 * 0.1 / math.sqrt(2) / math.sqrt(2), rel=1e-3)
    assert set(agg.n) == {2}
    assert len(leaderboard.aggregate(df, ["method", "level"])) == 4


def test_level_requests_are_deterministic_and_seed_dependent():
    levels = {"easy": list("abcdefgh"), "difficult": list("ijklmnop")}
    first = leaderboard.level_requests(levels, per_level=3, seed=0)
    assert first == {
        "easy": ["a", "e", "h"],
        "difficult": ["i", "m", "p"],
    }  # evenly spaced, ends included
    assert leaderboard.level_requests(levels, 3, seed=1) == leaderboard.level_requests(
        levels, 3, seed=1
    )
    assert leaderboard.level_requests(levels, 3, seed=1) != first
    assert leaderboard.level_requests({"x": ["a"]}, 3) == {"x": ["a"]}


def test_cache_persists_rows_and_frames_them(tmp_path):
    from kt_lib.cache import RunCache

    path = tmp_path / "sweeps.jsonl"
    cache = RunCache(path)
    cache.put(
        "k1",
        dict(
            method="ga",
            label="GA",
            Q=1.0,
            U=0.2,
            QU=0.33,
            per_concept=[dict(concept="x", domain="photo", before=0.8, after=0.0)],
        ),
    )
    again = RunCache(path)
    assert "k1" in again and len(again) == 1 and again.get("k1")["Q"] == 1.0
    assert "per_concept" not in again.frame().columns
    cf = leaderboard.concept_frame([again.get("k1")])
    assert cf.Q.tolist() == [1.0] and cf.label.tolist() == ["GA"]


EXPERIMENT = dict(forget=["Samoyed"], samples_per_class=4, eval_per_class=2, num_epochs=1)


def test_settings_key_resolves_defaults(exp):
    key = exp.key()
    assert key == exp.key(method="nhl_kl", margin=2.0)  # explicit defaults = same run
    assert key != exp.key(margin=1.0)
    assert key != exp.key(samples_per_class=2)
    assert key != exp.key(seed=1)


def test_settings_key_sees_the_exemplar_images(exp):
    from dataclasses import replace

    from torch.utils.data import TensorDataset

    from kt_lib.experiment import Experiment

    images, fine, coarse = exp.data.proxy_pool.tensors
    other = Experiment(
        exp.forget,
        model=exp.model,
        tokenizer=exp.tokenizer,
        samples_per_class=4,
        data=replace(exp.data, proxy_pool=TensorDataset(0.5 * images, fine, coarse)),
        num_epochs=1,
    )
    assert other.key() != exp.key()  # same names and settings, other images


def test_run_is_cached_and_sweeps_reuse_rows(exp, monkeypatch):
    row = exp.run(label="first", margin=1.0)
    assert {"Q", "U", "QU", "drawing_Q", "margin", "lr", "label", "per_concept"} <= set(row)
    assert row["margin"] == 1.0 and row["label"] == "first" and "result" not in row
    assert {c["domain"] for c in row["per_concept"]} == {"photo", "drawing"}
    n = len(exp.cache)

    def no_training(*args, **kwargs):
        raise RuntimeError("cached settings must not retrain")

    monkeypatch.setattr(exp, "_unlearn", no_training)  # what run() trains through
    rows = exp.compare([("margin 1", dict(method="nhl_kl", margin=1.0))])
    assert rows.label[0] == "margin 1" and rows.Q[0] == row["Q"] and len(exp.cache) == n
    assert list(rows.columns).count("margin") == 1
    assert exp.run(margin=1.0)["Q"] == row["Q"]  # asked again: the cached row


def test_leaderboard_shares_the_cache_and_writes_nothing_onto_the_experiment(exp):
    attrs = set(vars(exp))
    board = leaderboard.leaderboard(exp, ["nhl_kl"], levels={"one": ["Samoyed"]}, per_level=1)
    assert board.label.tolist() == ["nhl_kl"] and board.level.tolist() == ["one"]
    assert set(vars(exp)) <= attrs | {"fingerprint"}  # no private attributes written
    assert not any(k.startswith("_kt") for k in vars(exp))
    row = exp.run()  # the leaderboard's run of the same request: cached
    assert row["Q"] == board.Q.iloc[0]
