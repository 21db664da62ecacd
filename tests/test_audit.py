"""kt_lib.eval.audit: membership inference with true members, TOFU's KS forget quality, the quantization
attack and concept inversion (issue 30).

Unit tier: the statistics on tiny inputs (a leak they must find, identical distributions they must not), the
fake quantizer (exact on its grid, every >= 2-D weight covered) and the entry point's errors, on a small
random CLIP. Default tier, on the world model: a model that has not unlearned fails KS, and MIA where the
world leaves a member signal (Yorkshire terrier); the MIA audit's rows and control; quantizing and inverting run through `audit`."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from kt_lib.eval import audit, inversion, membership, quantize
from kt_lib.eval import forget_quality as fq
from kt_lib.world.config import BREEDS
from kt_lib.world.data import POOLS, WorldDataset

NAMES = ["Samoyed", "keeshond", "Pomeranian", "beagle"]


def _auc_band(n_m: int, n_n: int, sds: float = 4.0) -> float:
    """`sds` standard errors of the AUC under no signal (Mann-Whitney's variance, no ties)."""
    return sds * math.sqrt((n_m + n_n + 1) / (12 * n_m * n_n))


@pytest.mark.unit
def test_auc_is_the_probability_a_member_scores_higher_ties_half():
    assert membership.auc([3, 4, 5], [1, 2, 3]) == pytest.approx(
        8.5 / 9
    )  # 8 wins, 1 tie of 9 pairs
    assert membership.auc([1, 2], [3, 4]) == 0.0


@pytest.mark.unit
def test_members_scored_above_non_members_give_an_auc_near_one():
    rng = np.random.default_rng(0)
    members, non_members = rng.normal(3, 1, 200), rng.normal(0, 1, 200)
    assert membership.auc(members, non_members) > 0.95
    accuracy, _ = membership.attacker_accuracy(members, non_members)
    assert accuracy > 0.9


@pytest.mark.unit
def test_identical_distributions_give_an_auc_near_one_half():
    band = _auc_band(200, 200)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        members, non_members = rng.normal(0, 1, 200), rng.normal(0, 1, 200)
        assert abs(membership.auc(members, non_members) - 0.5) < band, seed
        accuracy, _ = membership.attacker_accuracy(members, non_members, seed=seed)
        assert abs(accuracy - 0.5) < 0.15, seed


@pytest.mark.unit
def test_the_attacker_learns_a_direction_the_auc_does_not():
    """Members scored *below* non-members: AUC near 0 (PrivLeak's sign reads it), attacker near 1."""
    rng = np.random.default_rng(1)
    members, non_members = rng.normal(-3, 1, 100), rng.normal(0, 1, 100)
    assert membership.auc(members, non_members) < 0.05
    assert membership.attacker_accuracy(members, non_members)[0] > 0.9


@pytest.mark.unit
def test_logistic_regression_reaches_its_optimum():
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(1, 1, 50), rng.normal(0, 1, 50)].reshape(-1, 1)
    y = np.r_[np.ones(50), np.zeros(50)]
    w = membership._logistic(x, y)
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
    per_name = [membership.scores(model, tokenizer, images, name, NAMES) for name in NAMES]
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
    s = {}
    for name, m in models.items():
        for part, x in (("members", members), ("non_members", non_members)):
            for f, v in membership.scores(m, tokenizer, x, "Samoyed", NAMES).items():
                s.setdefault(name, {}).setdefault(f, {})[part] = v
    out = pd.DataFrame(membership.membership(s))
    assert set(out.model) == set(models) and set(out.feature) == {"log_prob", "cosine"}
    assert out.p.between(0, 1).all() and out.attacker.between(0, 1).all()
    ref = out[out.model == "never-learned"].set_index("feature").auc
    for _, row in out.iterrows():
        assert row.privleak == pytest.approx((row.auc - ref[row.feature]) / ref[row.feature])
    assert (out[out.model == "never-learned"].privleak == 0).all()
    assert (out[out.model == "unlearned"].privleak != 0).any()


@pytest.mark.unit
def test_truth_ratio_means_and_their_errors(random_clip):
    model, tokenizer = random_clip
    images = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    geo = fq.truth_ratio(model, tokenizer, images, "Samoyed", NAMES[1:])
    arith = fq.truth_ratio(model, tokenizer, images, "Samoyed", NAMES[1:], mean="arithmetic")
    assert geo.shape == (5,) and np.all(arith >= geo - 1e-5)  # log-mean-exp >= mean (Jensen)
    with pytest.raises(ValueError, match="geometric, arithmetic"):
        fq.truth_ratio(model, tokenizer, images, "Samoyed", NAMES[1:], mean="harmonic")
    same = fq.ks_verdict(geo, fq.truth_ratio(model, tokenizer, images, "Samoyed", NAMES[1:]))
    assert (same["p"], same["D"], same["n"], same["passed"]) == (1.0, 0.0, 5, True)


def test_fresh_renders_are_the_pretraining_generator_on_seeds_no_pool_uses(
    small_world, monkeypatch
):
    assert membership.FRESH_POOL not in POOLS.values()
    members, non_members = membership.member_sets("Samoyed", cfg=small_world)
    assert len(members) == len(non_members) == small_world.pretrain_per_class
    flat = non_members.flatten(1)
    assert not any(torch.equal(m, n) for m in members.flatten(1) for n in flat)
    pretrain = WorldDataset("pretrain", "photo", small_world).images.flatten(1)
    assert not any(torch.equal(p, n) for p in pretrain for n in flat)  # no other breed's either
    monkeypatch.setattr(
        membership, "FRESH_POOL", POOLS["pretrain"]
    )  # the pretraining pool's own seeds
    assert torch.equal(membership.fresh_renders("Samoyed", len(members), cfg=small_world), members)


def test_a_model_that_has_not_unlearned_fails_ks_against_a_different_model(world_model):
    model, tokenizer, _ = world_model
    from kt_lib.world.model import create_world_model

    other = create_world_model(seed=1)[0].eval()  # a model that knows nothing of the breed
    images = WorldDataset("test", "photo", breeds=["Samoyed"], per_class=20).images
    names = list(BREEDS)
    perturbed = fq.confusable(model, tokenizer, images, "Samoyed", names)
    assert len(perturbed) == 5 and "Samoyed" not in perturbed
    knows = fq.truth_ratio(model, tokenizer, images, "Samoyed", perturbed)
    assert np.median(knows) < 0  # the breed's prompt is likelier than its confusables'
    fails = fq.ks_verdict(knows, fq.truth_ratio(other, tokenizer, images, "Samoyed", perturbed))
    assert not fails["passed"] and fails["p"] < 0.05 and fails["n"] == 20
    assert fq.ks_verdict(knows, fq.truth_ratio(model, tokenizer, images, "Samoyed", perturbed))[
        "passed"
    ]


# ---- quantization ----------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("bits, group", [(8, None), (4, 32), (4, 64), (4, 128)])
def test_fake_quantization_is_exact_on_its_grid_and_within_half_a_step_off_it(bits, group):
    qmax, gen = 2 ** (bits - 1) - 1, torch.Generator().manual_seed(bits)
    n = 200  # not a multiple of the group: the last group is shorter
    g = n if group is None else group
    levels = torch.randint(-qmax, qmax + 1, (6, n), generator=gen).float()
    levels[:, ::g] = qmax  # each group reaches the top level, so its scale is its own step
    scale = 2.0 ** -torch.randint(0, 8, (6, 1), generator=gen)  # a power of two: k * scale is exact
    on_grid = levels * scale
    assert torch.equal(quantize.quantize_weight(on_grid, bits, group), on_grid)
    w = torch.randn(6, n, generator=gen)
    q = quantize.quantize_weight(w, bits, group)
    groups = torch.nn.functional.pad(w, (0, (-n) % g)).view(6, -1, g)
    step = (groups.abs().amax(-1, keepdim=True) / qmax).expand_as(groups).reshape(6, -1)[:, :n]
    assert (q - w).abs().le(step / 2 + 1e-6).all() and not torch.equal(q, w)
    for row in q.view(-1, n):  # at most 2^bits values per group
        for part in row.split(g):
            assert len(part.unique()) <= 2**bits


@pytest.mark.unit
def test_fake_quantize_covers_every_matrix_including_attention_and_projections(random_clip):
    model, _ = random_clip
    names = quantize.quantized_weights(model)
    for must in ("visual.proj", "text_projection", "token_embedding.weight", "visual.conv1.weight"):
        assert must in names
    assert any(n.endswith("attn.in_proj_weight") for n in names)
    assert any(n.startswith("visual.transformer") and n.endswith("in_proj_weight") for n in names)
    before = {n: p.clone() for n, p in model.named_parameters()}
    q = dict(quantize.fake_quantize(model, 8).named_parameters())
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n])  # the model itself is untouched
        if n in names:
            assert not torch.equal(q[n], p), n
        else:
            assert torch.equal(q[n], p), n  # biases, norms, logit scale: left as they are
    # visual.proj is x @ W: its outputs are columns, each with its own int8 scale
    w, qw = model.visual.proj.detach(), q["visual.proj"].detach()
    steps = qw / (w.abs().amax(0, keepdim=True) / 127)
    assert torch.allclose(steps, steps.round(), atol=1e-3)


# ---- concept inversion -----------------------------------------------------------------------------------


@pytest.mark.unit
def test_concept_inversion_changes_the_placeholder_row_alone(random_clip):
    model, tokenizer = random_clip
    images = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    inverted = inversion.invert_concept(model, tokenizer, images, "Samoyed", NAMES, steps=5)
    row = inversion._placeholder_id(tokenizer)
    a, b = dict(model.named_parameters()), dict(inverted.named_parameters())
    changed = [n for n in a if not torch.equal(a[n], b[n])]
    assert changed == ["token_embedding.weight"]
    diff = (a[changed[0]] - b[changed[0]]).abs().sum(1)
    assert diff[row] > 0 and diff.count_nonzero() == 1
    assert tokenizer([inversion.PLACEHOLDER])[0][2] == tokenizer.eot_token_id  # one BPE token
    assert 0 <= inversion.inverted_accuracy(inverted, tokenizer, images, "Samoyed", NAMES) <= 1


# ---- the entry point -------------------------------------------------------------------------------------


@pytest.mark.unit
def test_audit_names_and_ranges_fail_in_one_line_naming_the_allowed_values():
    assert audit.audit_names("all") == list(audit.AUDITS)
    assert audit.audit_names("ks, mia,ks") == ["ks", "mia"]
    for bad in ("mia,relearn", "", ["all", "ks"]):
        with pytest.raises(ValueError, match="use any of mia, ks, quant, invert or all"):
            audit.audit_names(bad)
    with pytest.raises(ValueError, match="k must be an integer from 1 to 100, got 0"):
        audit.audit(None, None, names="invert", k=0)
    with pytest.raises(ValueError, match="steps must be an integer from 1 to 100, got 101"):
        audit.audit(None, None, names="invert", steps=101)
    with pytest.raises(ValueError, match="group_size must be one of 32, 64, 128, got 16"):
        audit.audit(None, None, names="quant", group_size=16)
    with pytest.raises(ValueError, match="unknown audit 'bogus'"):
        audit.audit(None, None, names="bogus")


@pytest.mark.unit
def test_leak_is_found_when_members_score_higher_and_not_when_nothing_differs():
    rng = np.random.default_rng(4)
    same = dict(members=rng.normal(0, 1, 200), non_members=rng.normal(0, 1, 200))
    other = dict(members=rng.normal(0, 1, 200), non_members=rng.normal(0, 1, 200))
    leaky = dict(members=rng.normal(1, 1, 200), non_members=rng.normal(0, 1, 200))
    assert membership.leak(same, same)["verdict"] == "indistinguishable"
    assert membership.leak(same, same)["difference"] == 0
    assert membership.leak(leaky, other)["verdict"] == "leak"
    assert membership.leak(other, leaky)["verdict"] == "over-unlearned"
    lo, hi = membership.leak(leaky, other)["ci95"]
    assert lo < membership.leak(leaky, other)["difference"] < hi


EXPERIMENT = dict(forget=["Samoyed"], eval_per_class=10)


def test_membership_audit_rows_privleak_and_its_control(exp):
    """Through `audit`: every model's AUCs, PrivLeak against the reference and the leak interval; the same
    model as unlearned and reference finds no difference. (On Samoyed the original's member signal is at
    chance, benchmarks/audit.md; the next test audits a breed where it is not.)"""
    out = audit.audit(exp, exp.model, never=exp.model, names="mia")["mia"]
    assert out["members"] == out["non_members"] == 200
    rows = {(r["model"], r["feature"]): r for r in out["rows"]}
    assert set(rows) == {
        (m, f) for m in ("original", "unlearned", "never-learned") for f in ("log_prob", "cosine")
    }
    assert all(r["privleak"] == 0 and 0 <= r["p"] <= 1 for r in rows.values())
    assert out["passed"] and all(v["difference"] == 0 for v in out["leak"].values())
    assert all(v["verdict"] == "indistinguishable" for v in out["leak"].values())


def test_a_model_that_has_not_unlearned_fails_mia_where_the_world_leaves_a_member_signal(
    world_model,
):
    """Yorkshire terrier, where benchmarks/audit.md measured the original's AUC at 0.598 (p < 0.001): the
    attack finds the members of a model that knows them, and the original audited as if unlearned is a leak
    against references that never saw a photo (random weights, in place of the never-learned model, which
    costs minutes to pretrain). A reference's own AUC wanders by its noise (0.47-0.54 over seeds 1-7,
    measured), enough to hide the signal behind one of them (seeds 1 and 6): most of five find it."""
    from kt_lib.experiment import Experiment
    from kt_lib.world.model import create_world_model

    model, tokenizer, _ = world_model
    yorkie = Experiment(["Yorkshire terrier"], model, tokenizer, eval_per_class=10, cache=None)
    verdicts = []
    for seed in range(1, 6):
        stranger = create_world_model(seed=seed)[0].eval()
        out = audit.audit(yorkie, model, never=stranger, names="mia")["mia"]
        rows = {(r["model"], r["feature"]): r for r in out["rows"]}
        assert (
            rows["original", "log_prob"]["auc"] > 0.55 and rows["original", "log_prob"]["p"] < 0.01
        )
        assert abs(rows["never-learned", "log_prob"]["auc"] - 0.5) < _auc_band(200, 200)
        verdicts.append(out["leak"]["log_prob"]["verdict"])
    assert verdicts.count("leak") >= 3, verdicts


def test_a_model_that_has_not_unlearned_fails_ks_and_a_missing_reference_says_how_to_build_it(
    exp, monkeypatch
):
    from kt_lib.eval import recovery
    from kt_lib.world.model import create_world_model

    stranger = create_world_model(seed=1)[0].eval()  # knows nothing of the breed
    fails = audit.audit(exp, exp.model, never=stranger, names="ks")["ks"]
    assert not fails["passed"] and fails["p"] < 0.05 and fails["n"] == 200 and fails["D"] > 0.5
    assert "geometric mean" in fails["statistic"] and len(fails["perturbed"]["Samoyed"]) == 5
    assert audit.audit(exp, exp.model, never=exp.model, names="ks")["ks"]["D"] == 0
    monkeypatch.setattr(recovery, "cached_reference", lambda *a: None)
    with pytest.raises(
        audit.NeverLearnedMissing, match=r"kt world --retrain --without 'Samoyed'.*minutes"
    ):
        audit.audit(exp, exp.model, names="ks")
    with pytest.raises(audit.NeverLearnedMissing, match="kt world --retrain"):  # False: none at all
        audit.audit(exp, exp.model, never=False, names="ks")


def test_quantization_through_the_evaluator_and_inversion_of_the_original(exp):
    out = audit.audit(exp, exp.model, never=False, names="quant,invert", steps=40)
    quant = {(r["model"], r["scheme"]): r for r in out["quant"]["rows"]}
    assert set(s for _, s in quant) == {"fp32", "int8", "int4_g64"}
    assert quant[("original", "fp32")]["returned"] == 1
    assert quant[("original", "int8")]["returned"] > 0.8  # int8 keeps the model's knowledge
    assert "visual.proj" in out["quant"]["modules"]
    assert {m for m, _ in quant} == {"original", "unlearned"}  # never=False: no control loaded
    assert "kt world --retrain" in out["never_learned"]
    inv = {r["model"]: r for r in out["invert"]["rows"]}
    assert (
        inv["original"]["by_token"] > 0.5
    )  # a token learned from 5 images names what the model knows
