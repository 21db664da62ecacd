"""Unit tests for SalUn's mask and hard mask enforcement (kt_lib.methods.salun) and the task-vector negation
(kt_lib.methods.task_vector)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kt_lib.methods.salun import enforce_mask_, saliency_mask
from kt_lib.methods.task_vector import negate_task_vector

pytestmark = pytest.mark.unit

torch.set_num_threads(1)


def test_saliency_mask_fraction_and_global_threshold():
    g = torch.Generator().manual_seed(0)
    grads = {"a": torch.randn(40, 25, generator=g), "b": torch.randn(500, generator=g) * 10}
    mask = saliency_mask(grads, 0.2)
    assert {k: v.shape for k, v in mask.items()} == {k: v.shape for k, v in grads.items()}
    assert all(v.dtype == torch.bool for v in mask.values())
    n_true = sum(int(v.sum()) for v in mask.values())
    assert n_true == 300  # 20 % of 1500, no ties in continuous data
    # global, not per tensor: the 10x larger "b" grads take most of the budget
    assert mask["b"].float().mean() > 0.5 > mask["a"].float().mean()
    kept = torch.cat([grads[k][mask[k]].abs() for k in grads])
    dropped = torch.cat([grads[k][~mask[k]].abs() for k in grads])
    assert kept.min() > dropped.max()
    assert all(v.all() for v in saliency_mask(grads, 1.0).values())
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            saliency_mask(grads, bad)


def test_enforce_mask_survives_adamw_weight_decay():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    ref = {k: v.detach().clone() for k, v in model.state_dict().items()}
    mask = {"weight": torch.rand(3, 4) < 0.5, "bias": torch.tensor([True, False, False])}
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(8, 4)).pow(2).sum().backward()
        opt.step()
        enforce_mask_(model, mask, ref)
    for name, p in model.named_parameters():
        assert torch.equal(p[~mask[name]], ref[name][~mask[name]])  # exactly the reference
        assert (p[mask[name]] != ref[name][mask[name]]).all()  # salient entries did move
    with pytest.raises(KeyError):
        enforce_mask_(model, {"wieght": mask["weight"]}, ref)


def test_negate_task_vector():
    theta0 = {
        "w": torch.tensor([1.0, 2.0]),
        "h": torch.tensor([1.0], dtype=torch.bfloat16),
        "n": torch.tensor([3]),
    }
    theta_ft = {
        "w": torch.tensor([2.0, 0.0]),
        "h": torch.tensor([1.5], dtype=torch.bfloat16),
        "n": torch.tensor([9]),
    }
    out = negate_task_vector(theta0, theta_ft, lam=0.5)
    assert torch.equal(out["w"], torch.tensor([0.5, 3.0]))
    assert out["h"].dtype == torch.bfloat16 and out["h"].item() == 0.75
    assert torch.equal(out["n"], theta0["n"]) and out["n"] is not theta0["n"]
    assert torch.equal(negate_task_vector(theta0, theta_ft, 0.0)["w"], theta0["w"])
    with pytest.raises(ValueError):
        negate_task_vector(theta0, {"w": theta_ft["w"]}, 1.0)


def test_unreachable_weights_are_never_salient():
    grads = {"used": torch.tensor([3.0, 1.0, 2.0, 4.0]), "unused_rows": torch.zeros(96)}
    mask = saliency_mask(grads, 0.5)
    assert mask["used"].tolist() == [True, False, False, True]  # half of the reachable weights
    assert not mask["unused_rows"].any()
    with pytest.raises(ValueError, match="zero gradients"):
        saliency_mask({"w": torch.zeros(3)}, 0.5)
