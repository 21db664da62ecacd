"""kt_lib.eval.audit: membership inference with true members and TOFU's KS forget quality (issue 30).

Unit tier: the statistics on tiny inputs (a leak they must find, identical distributions they must not) and
the audit's plumbing on a small random CLIP. Default tier: the world model, which has not unlearned, fails
the KS test against a different model's statistics."""

import math

import numpy as np
import pytest
import torch

from kt_lib.eval import audit
from kt_lib.world.config import BREEDS
from kt_lib.world.data import POOLS, WorldDataset

NAMES = ["Samoyed", "keeshond", "Pomeranian", "beagle"]


def _auc_band(n_m: int, n_n: int, sds: float = 4.0) -> float:
    """`sds` standard errors of the AUC under no signal (Mann-Whitney's variance, no ties)."""
    return sds * math.sqrt((n_m + n_n + 1) / (12 * n_m * n_n))


@pytest.mark.unit
def test_auc_is_the_probability_a_member_scores_higher_ties_half():
    assert audit.auc([3, 4, 5], [1, 2, 3]) == pytest.approx(8.5 / 9)  # 8 wins, 1 tie of 9 pairs
    assert audit.auc([1, 2], [3, 4]) == 0.0


@pytest.mark.unit
def test_members_scored_above_non_members_give_an_auc_near_one():
    rng = np.random.default_rng(0)
    members, non_members = rng.normal(3, 1, 200), rng.normal(0, 1, 200)
    assert audit.auc(members, non_members) > 0.95
    accuracy, _ = audit.attacker_accuracy(members, non_members)
    assert accuracy > 0.9


@pytest.mark.unit
def test_identical_distributions_give_an_auc_near_one_half():
    band = _auc_band(200, 200)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        members, non_members = rng.normal(0, 1, 200), rng.normal(0, 1, 200)
        assert abs(audit.auc(members, non_members) - 0.5) < band, seed
        accuracy, _ = audit.attacker_accuracy(members, non_members, seed=seed)
        assert abs(accuracy - 0.5) < 0.15, seed


@pytest.mark.unit
def test_the_attacker_learns_a_direction_the_auc_does_not():
    """Members scored *below* non-members: AUC near 0 (PrivLeak's sign reads it), attacker near 1."""
    rng = np.random.default_rng(1)
    members, non_members = rng.normal(-3, 1, 100), rng.normal(0, 1, 100)
    assert audit.auc(members, non_members) < 0.05
    assert audit.attacker_accuracy(members, non_members)[0] > 0.9


@pytest.mark.unit
def test_logistic_regression_reaches_its_optimum():
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(1, 1, 50), rng.normal(0, 1, 50)].reshape(-1, 1)
    y = np.r_[np.ones(50), np.zeros(50)]
    w = audit._logistic(x, y)
    X = np.column_stack([x, np.ones(100)])
    p = 1 / (1 + np.exp(-(X @ w)))
    gradient = X.T @ (p - y) + np.r_[w[:-1], 0]  # of C * log-loss + |w|^2 / 2, C = 1
    assert w[0] > 0 and np.abs(gradient).max() < 1e-4


@pytest.fixture(scope="module")
def random_clip():
    from kt_lib.world.model import create_world_model

    model, tokenizer = create_world_model(seed=0)
    return model.eval(), tokenizer


@pytest.mark.unit
def test_scores_are_a_log_probability_over_the_names_and_a_cosine(random_clip):
    model, tokenizer = random_clip
    images = torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    per_name = [audit.scores(model, tokenizer, images, name, NAMES) for name in NAMES]
    total = sum(np.exp(s["log_prob"]) for s in per_name)
    assert np.allclose(total, 1, atol=1e-5)
    assert all(np.all(np.abs(s["cosine"]) <= 1 + 1e-6) for s in per_name)


@pytest.mark.unit
def test_membership_rows_and_privleak_against_the_reference(random_clip):
    model, tokenizer = random_clip
    from kt_lib.world.model import create_world_model

    other = create_world_model(seed=1)[0].eval()
    gen = torch.Generator().manual_seed(1)
    members, non_members = torch.randn(20, 3, 32, 32, generator=gen), torch.randn(20, 3, 32, 32)
    models = {"unlearned": model, "never-learned": other}
    out = audit.membership(models, tokenizer, members, non_members, "Samoyed", NAMES)
    assert set(out.model) == set(models) and set(out.feature) == {"log_prob", "cosine"}
    assert (out.n == 20).all() and out.p.between(0, 1).all()
    ref = out[out.model == "never-learned"].set_index("feature").auc
    for _, row in out.iterrows():
        assert row.privleak == pytest.approx((row.auc - ref[row.feature]) / ref[row.feature])
    with pytest.raises(ValueError, match="as many non-members as members"):
        audit.membership(models, tokenizer, members, non_members[:10], "Samoyed", NAMES)


@pytest.mark.unit
def test_truth_ratio_means_and_their_errors(random_clip):
    model, tokenizer = random_clip
    images = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    geo = audit.truth_ratio(model, tokenizer, images, "Samoyed", NAMES[1:])
    arith = audit.truth_ratio(model, tokenizer, images, "Samoyed", NAMES[1:], mean="arithmetic")
    assert geo.shape == (5,) and np.all(arith >= geo - 1e-5)  # log-mean-exp >= mean (Jensen)
    with pytest.raises(ValueError, match="geometric, arithmetic"):
        audit.truth_ratio(model, tokenizer, images, "Samoyed", NAMES[1:], mean="harmonic")
    same = audit.forget_quality(model, model, tokenizer, images, "Samoyed", NAMES[1:])
    assert (same["p"], same["D"], same["n"], same["passed"]) == (1.0, 0.0, 5, True)
    assert "geometric mean, 3 wordings, 3 perturbed" in same["statistic"]


def test_fresh_renders_are_the_pretraining_generator_on_seeds_no_pool_uses(
    small_world, monkeypatch
):
    assert audit.FRESH_POOL not in POOLS.values()
    members, non_members = audit.member_sets("Samoyed", cfg=small_world)
    assert len(members) == len(non_members) == small_world.pretrain_per_class
    flat = non_members.flatten(1)
    assert not any(torch.equal(m, n) for m in members.flatten(1) for n in flat)
    pretrain = WorldDataset("pretrain", "photo", small_world).images.flatten(1)
    assert not any(torch.equal(p, n) for p in pretrain for n in flat)  # no other breed's either
    monkeypatch.setattr(audit, "FRESH_POOL", POOLS["pretrain"])  # the pretraining pool's own seeds
    assert torch.equal(audit.fresh_renders("Samoyed", len(members), cfg=small_world), members)


def test_a_model_that_has_not_unlearned_fails_ks_against_a_different_model(world_model):
    model, tokenizer, _ = world_model
    from kt_lib.world.model import create_world_model

    other = create_world_model(seed=1)[0].eval()  # a model that knows nothing of the breed
    images = WorldDataset("test", "photo", breeds=["Samoyed"], per_class=20).images
    names = list(BREEDS)
    perturbed = audit.confusable(model, tokenizer, images, "Samoyed", names)
    assert len(perturbed) == 5 and "Samoyed" not in perturbed
    knows = audit.truth_ratio(model, tokenizer, images, "Samoyed", perturbed)
    assert np.median(knows) < 0  # the breed's prompt is likelier than its confusables'
    fails = audit.forget_quality(model, other, tokenizer, images, "Samoyed", perturbed)
    assert not fails["passed"] and fails["p"] < 0.05 and fails["n"] == 20
    assert audit.forget_quality(model, model, tokenizer, images, "Samoyed", perturbed)["passed"]
