"""Unit tests for kt_lib.losses: signs, bounds, masking, KL conventions, NPO, random relabelling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kt_lib import losses as L

pytestmark = pytest.mark.unit

torch.set_num_threads(1)


def _rand(b: int = 4, c: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, generator=g) * 5, torch.randint(0, c, (b,), generator=g)


def test_nontarget_max_all_negative_logits():
    logits = torch.tensor([[-3.0, -1.0, -2.0], [-5.0, -4.0, -0.5]])
    labels = torch.tensor([1, 2])
    out = L.nontarget_max(logits, labels)
    assert torch.equal(out, torch.tensor([-2.0, -4.0]))
    # the buggy "multiply by a 0/1 mask" version would give 0 for both rows
    zero_masked = (logits * (1 - F.one_hot(labels, 3))).max(-1).values
    assert not torch.equal(out, zero_masked)


def test_nhl_nonnegative_and_value():
    logits, labels = _rand()
    assert L.nhl(logits, labels, margin=2.0) >= 0
    logits = torch.tensor([[1.0, 0.5, -1.0]])
    assert L.nhl(logits, torch.tensor([0]), margin=2.0).item() == pytest.approx(2.5)


def test_nhl_zero_with_zero_grad_once_margin_satisfied():
    logits = torch.tensor([[-10.0, -3.0, -4.0]], requires_grad=True)  # target 7 below best other
    loss = L.nhl(logits, torch.tensor([0]), margin=2.0)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.count_nonzero(logits.grad) == 0


def test_nhl_gradient_pushes_target_down():
    logits = torch.tensor([[1.0, 0.0, -1.0]], requires_grad=True)
    L.nhl(logits, torch.tensor([0])).backward()
    assert logits.grad[0, 0] > 0 and logits.grad[0, 1] < 0  # descent lowers target, raises rival


def test_ga_sign_and_unbounded():
    logits = torch.tensor([[2.0, 0.0, 0.0]], requires_grad=True)
    L.ga(logits, torch.tensor([0])).backward()
    assert logits.grad[0, 0] > 0  # descent on -CE lowers the target logit (= ascent on CE)
    vals = [
        L.ga(torch.tensor([[t, 0.0, 0.0]]), torch.tensor([0])).item() for t in (0.0, -50.0, -500.0)
    ]
    assert vals[0] > vals[1] > vals[2] and vals[2] < -400


def test_ce_matches_torch():
    logits, labels = _rand()
    assert torch.allclose(L.ce(logits, labels), F.cross_entropy(logits, labels))


def test_kl_zero_for_identical_positive_otherwise_and_sum_over_numel():
    a, _ = _rand(seed=1)
    b, _ = _rand(seed=2)
    assert L.kl_div(a, a.clone()).abs().item() < 1e-6
    kl = L.kl_div(a, b)
    assert kl > 0
    batchmean = F.kl_div(
        F.log_softmax(a, -1), F.log_softmax(b, -1), reduction="batchmean", log_target=True
    )
    assert torch.allclose(kl * a.shape[1], batchmean)  # sum/numel = batchmean / C


def test_kl_reference_detached():
    a, _ = _rand(seed=1)
    ref = torch.randn_like(a, requires_grad=True)
    L.kl_div(a.requires_grad_(), ref).backward()
    assert ref.grad is None and a.grad is not None


def test_kl_fine_nontarget_ignores_target_column():
    now, labels = _rand(seed=3)
    ref = now.clone()
    ref[torch.arange(len(labels)), labels] += 7.0  # change only each row's own target column
    assert L.kl_fine_nontarget(now, ref, labels).abs().item() < 1e-6
    assert L.kl_div(now, ref) > 1e-3  # the full KL does see the change
    ref2 = now.clone()
    ref2[0, (labels[0] + 1) % now.shape[1]] += 7.0  # a non-target column
    assert L.kl_fine_nontarget(now, ref2, labels) > 1e-3


def test_npo_at_equal_ce_and_sign():
    logits, labels = _rand()
    beta = 0.5
    assert L.npo(logits, logits.clone(), labels, beta).item() == pytest.approx(
        2 * math.log(2) / beta, rel=1e-6
    )
    x = logits.clone().requires_grad_()
    L.npo(x, logits, labels, beta).backward()
    tgt_grad = x.grad[torch.arange(len(labels)), labels]
    assert (tgt_grad > 0).all()  # descent lowers the target logit
    lower = logits.clone()
    lower[torch.arange(len(labels)), labels] -= 20
    assert L.npo(lower, logits, labels, beta) < L.npo(logits, logits, labels, beta)


def test_entropy_to_uniform():
    assert L.entropy_to_uniform(torch.zeros(3, 5)).abs().item() < 1e-6
    peaked = torch.tensor([[100.0, 0, 0, 0]])
    assert L.entropy_to_uniform(peaked).item() == pytest.approx(math.log(4), rel=1e-4)


def test_random_other_labels_never_true_and_deterministic():
    labels = torch.randint(0, 5, (2000,), generator=torch.Generator().manual_seed(0))
    a = L.random_other_labels(labels, 5, torch.Generator().manual_seed(7))
    b = L.random_other_labels(labels, 5, torch.Generator().manual_seed(7))
    c = L.random_other_labels(labels, 5, torch.Generator().manual_seed(8))
    assert (a != labels).all() and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() < 5 and len(a.unique()) == 5
    with pytest.raises(ValueError):
        L.random_other_labels(labels, 1)


@pytest.mark.parametrize("fn", ["nhl", "ga", "ce", "npo", "kl", "kl_nt", "ent"])
def test_bf16_inputs_give_float32_close_to_fp32(fn):
    logits, labels = _rand(seed=4)
    ref, _ = _rand(seed=5)
    call = {
        "nhl": lambda x, r: L.nhl(x, labels),
        "ga": lambda x, r: L.ga(x, labels),
        "ce": lambda x, r: L.ce(x, labels),
        "npo": lambda x, r: L.npo(x, r, labels),
        "kl": L.kl_div,
        "kl_nt": lambda x, r: L.kl_fine_nontarget(x, r, labels),
        "ent": lambda x, r: L.entropy_to_uniform(x),
    }[fn]
    lo, ro = logits.bfloat16(), ref.bfloat16()
    out = call(lo, ro)
    assert out.dtype == torch.float32
    assert torch.allclose(out, call(lo.float(), ro.float()), rtol=1e-5, atol=1e-6)


def test_drop_target_gathers_exactly_what_a_boolean_mask_selects():
    from kt_lib.losses import _drop_target

    logits = torch.randn(6, 9, requires_grad=True)
    labels = torch.tensor([0, 8, 4, 4, 1, 7])
    other = ~torch.nn.functional.one_hot(labels, 9).bool()
    dropped = _drop_target(logits, labels)
    assert torch.equal(dropped, logits[other].view(6, 8))
    dropped.sum().backward()  # every non-target column gets gradient 1, each target column 0
    assert torch.equal(logits.grad, other.float())
