"""Unit tests for the method registry in kt_lib.methods."""

from __future__ import annotations

import pytest
import torch

from kt_lib import losses as L
from kt_lib.methods import (
    METHODS,
    LossConfig,
    LossInputs,
    Method,
    WithReference,
    compute_loss,
    get_method,
    list_methods,
)

pytestmark = pytest.mark.unit

torch.set_num_threads(1)

EXPECTED = [
    "ga",
    "gdiff",
    "ga_kl",
    "nhl",
    "nhl_kl",
    "npo_kl",
    "me_gd",
    "relabel",
    "salun",
    "task_vector",
    "projection",
]
LOSS_METHODS = [m for m in EXPECTED if m != "projection"]  # projection: closed form, no loss
N_FINE, N_COARSE, B = 7, 3, 5


def _inputs(seed: int = 0, with_ref: bool = True) -> LossInputs:
    g = torch.Generator().manual_seed(seed)
    fine = (torch.randn(B, N_FINE, generator=g) * 4).requires_grad_()
    coarse = (torch.randn(B, N_COARSE, generator=g) * 4).requires_grad_()
    fl = torch.randint(0, N_FINE, (B,), generator=g)
    return LossInputs(
        fine_logits=fine,
        coarse_logits=coarse,
        fine_labels=fl,
        coarse_labels=torch.randint(0, N_COARSE, (B,), generator=g),
        ref_fine_logits=torch.randn(B, N_FINE, generator=g) * 4 if with_ref else None,
        ref_coarse_logits=torch.randn(B, N_COARSE, generator=g) * 4 if with_ref else None,
        other_labels=L.random_other_labels(fl, N_FINE, g),
    )


def test_registry_has_exactly_the_expected_methods():
    assert sorted(METHODS) == sorted(EXPECTED)
    assert [n for n, _ in list_methods()] == list(METHODS)
    assert all(isinstance(d, str) and d for _, d in list_methods())
    hooked = {n for n, m in METHODS.items() if type(m).after_step is not Method.after_step}
    hooked |= {n for n, m in METHODS.items() if type(m).finish is not Method.finish}
    hooked |= {n for n, m in METHODS.items() if not m.compact_vocabulary}
    assert hooked == {"salun", "task_vector"}  # projection: closed form in prepare, epochs 0
    assert {n for n, m in METHODS.items() if isinstance(m, WithReference)} == {
        "ga_kl",
        "nhl_kl",
        "npo_kl",
    }
    assert not METHODS["ga"].bounded and METHODS["nhl"].bounded


@pytest.mark.parametrize("name", LOSS_METHODS)
def test_every_method_finite_scalar_with_gradient(name):
    x = _inputs()
    loss, parts = compute_loss(name, x, LossConfig())
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert x.fine_logits.grad is not None and x.fine_logits.grad.abs().sum() > 0
    assert parts["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert sum(v for k, v in parts.items() if k != "loss") == pytest.approx(
        loss.item(), rel=1e-5, abs=1e-6
    )
    assert all(isinstance(v, float) for v in parts.values())


def test_method_values_match_formulas():
    x, cfg = _inputs(1), LossConfig()
    kl = cfg.alpha_coarse * L.kl_div(
        x.coarse_logits, x.ref_coarse_logits
    ) + cfg.alpha_fine * L.kl_fine_nontarget(x.fine_logits, x.ref_fine_logits, x.fine_labels)
    expected = {
        "ga": L.ga(x.fine_logits, x.fine_labels),
        "gdiff": L.ga(x.fine_logits, x.fine_labels) + L.ce(x.coarse_logits, x.coarse_labels),
        "ga_kl": L.ga(x.fine_logits, x.fine_labels) + kl,
        "nhl": L.nhl(x.fine_logits, x.fine_labels, cfg.margin),
        "nhl_kl": L.nhl(x.fine_logits, x.fine_labels, cfg.margin) + kl,
        "npo_kl": L.npo(x.fine_logits, x.ref_fine_logits, x.fine_labels, cfg.beta) + kl,
        "me_gd": L.entropy_to_uniform(x.fine_logits) + L.ce(x.coarse_logits, x.coarse_labels),
        "relabel": L.ce(x.fine_logits, x.other_labels),
        "salun": L.ce(x.fine_logits, x.other_labels),
        "task_vector": L.ce(x.fine_logits, x.fine_labels),
    }
    for name, want in expected.items():
        got, _ = compute_loss(name, x, cfg)
        assert torch.allclose(got, want, atol=1e-6), name


def test_goal_selects_level():
    x = _inputs(2)
    coarse, _ = compute_loss("nhl", x, LossConfig(goal="coarse"))
    hybrid, parts = compute_loss("nhl", x, LossConfig(goal="hybrid"))
    assert torch.allclose(coarse, L.nhl(x.coarse_logits, x.coarse_labels))
    assert torch.allclose(
        hybrid, L.nhl(x.fine_logits, x.fine_labels) + L.nhl(x.coarse_logits, x.coarse_labels)
    )
    assert {"nhl_fine", "nhl_coarse"} <= set(parts)
    _, parts = compute_loss("nhl_kl", x, LossConfig(goal="coarse"))
    assert "kl_coarse" not in parts and "kl_fine" in parts
    with pytest.raises(ValueError, match="goal"):
        compute_loss("me_gd", x, LossConfig(goal="coarse"))
    with pytest.raises(ValueError, match="goal"):
        LossConfig(goal="medium")


def test_unknown_method_suggests_close_match():
    with pytest.raises(ValueError) as err:
        compute_loss("nhl_kll", _inputs(), LossConfig())
    msg = str(err.value)
    assert "'nhl_kl'" in msg and "task_vector" in msg  # suggestion + full list
    with pytest.raises(ValueError):
        get_method("")


@pytest.mark.parametrize("name", ["ga_kl", "nhl_kl", "npo_kl"])
def test_missing_reference_raises(name):
    with pytest.raises(ValueError, match="ref_"):
        compute_loss(name, _inputs(with_ref=False), LossConfig())


def test_missing_other_labels_raises():
    x = _inputs()
    x.other_labels = None
    with pytest.raises(ValueError, match="other_labels"):
        compute_loss("relabel", x, LossConfig())
