"""The paper's phenomena on the embedded world (issue 3's acceptance), with bands, not exact floats.

Default request: German short-haired pointer, West Highland white terrier, golden retriever, Samoyed;
30 proxy images per breed, lr 2e-4, 48 optimiser steps at batch 32 (UnlearnConfig defaults).
"""

import pytest


@pytest.fixture(scope="module")
def table(exp):
    df = exp.compare(
        ["ga", "ga_kl", "nhl", "nhl_kl", ("nhl_kl_af0", dict(method="nhl_kl", alpha_fine=0.0))]
    )
    return df.set_index("label")


def test_the_original_model_knows_the_targets(exp):
    assert exp.before["forget_fine"] > 0.7 and exp.before["forget_coarse"] > 0.7


def test_gradient_ascent_collapses(table):
    assert table.loc["ga", "U"] < 0.3
    assert table.loc["ga", "after_retain_fine"] < 0.5
    assert table.loc["ga", "zero_shot_utility"] < table.loc["nhl_kl", "zero_shot_utility"]


def test_nhl_kl_forgets_and_keeps_knowledge(table):
    qu = table["QU"]
    assert qu["nhl_kl"] >= 0.90
    for other in ("ga", "ga_kl", "nhl"):
        assert qu["nhl_kl"] > qu[other] + 0.1, (other, qu.to_dict())
    assert table.loc["nhl_kl", "after_forget_coarse"] > 0.7  # "still a pointer / still a terrier"
    assert table.loc["nhl_kl", "stopped"] is None


def test_removing_alpha_fine_lowers_utility(table):
    assert table.loc["nhl_kl_af0", "U"] < table.loc["nhl_kl", "U"]


def test_the_ood_domain_forgets_less_under_gentle_unlearning(exp):
    # at lr 1e-4 NHL+KL forgets the photos (Q ~0.99) while drawings keep part of their accuracy
    row = exp.run("nhl_kl", lr=1e-4)
    assert row["Q"] > 0.9
    assert row["drawing_Q"] < row["Q"] - 0.05, (row["Q"], row["drawing_Q"])


def test_more_samples_do_not_lower_quality(exp, table):
    q10 = exp.run("nhl_kl", samples_per_class=10)["Q"]
    q30 = table.loc["nhl_kl", "Q"]
    q100 = exp.run("nhl_kl", samples_per_class=100)["Q"]
    assert q30 >= q10 - 0.02 and q100 >= q30 - 0.02, (q10, q30, q100)
