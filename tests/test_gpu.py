"""CUDA-only correctness of the fast paths (skipped without a GPU; `benchmarks/gpu_check.sh` runs them).

Each optimization that only takes effect on CUDA is compared with the plain computation: bf16 autocast with
the fp32 step (bf16 tolerance), fused Adam with torch's plain Adam, the cached reference with a fresh
reference forward, the whole-step CUDA graph with the eager step, and the trainer end to end on the GPU.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from kt_harness.bench.cudagraph import GraphedStep
from kt_harness.bench.step_variants import (
    BASELINE,
    GRAPHED,
    OURS,
    Variant,
    _apply,
    build_model,
    fresh_reference_logits,
    make_optimizer,
    make_setup,
    step_loss,
    train_step,
)
from kt_lib.world.model import MODEL_NAME

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")
FP32_FAST = Variant(
    "fp32 fast", False, True, True, True, True
)  # everything of OURS except autocast


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = build_model(MODEL_NAME, seed=0)
    model = model.to(CUDA)
    return model, make_setup(model, tokenizer, MODEL_NAME, batch=8, device=CUDA, seed=0)


def _flat(model) -> torch.Tensor:
    return torch.cat(
        [p.detach().float().flatten() for p in model.visual.parameters()]
        + [p.detach().float().flatten() for p in model.transformer.parameters()]
    )


def _update(model, setup, variant, steps=1):
    """Parameter change of `steps` eager steps of `variant` on a copy (image and text transformer weights)."""
    m = copy.deepcopy(model).train()
    before = _flat(m)
    opt = make_optimizer(m, variant, 1e-4, setup)
    for _ in range(steps):
        train_step(m, opt, setup, variant)
    torch.cuda.synchronize()
    return _flat(m) - before, m


def test_bf16_step_matches_the_fp32_step_within_bf16_tolerance(tiny):
    model, setup = tiny
    with torch.no_grad():
        plain = step_loss(copy.deepcopy(model), setup, BASELINE)
        fast = step_loss(copy.deepcopy(model), setup, OURS)
    torch.testing.assert_close(fast, plain, rtol=3e-2, atol=3e-2)
    d_plain, _ = _update(model, setup, BASELINE)
    d_fast, _ = _update(model, setup, OURS)
    assert F.cosine_similarity(d_fast, d_plain, dim=0) > 0.97  # Adam's first step ~ lr * sign(grad)


def test_fused_cuda_adam_equals_plain_adam_in_fp32(tiny):
    model, setup = tiny
    fused = Variant("fused", False, True, True, True, False)
    plain = Variant("plain", False, True, True, False, False)
    d_fused, _ = _update(model, setup, fused, steps=2)
    d_plain, _ = _update(model, setup, plain, steps=2)
    # Adam's update g/(|g|+eps) flips for gradients near eps under another summation order: compare the
    # update as a whole, and bound any single weight's difference by half a step size.
    assert F.cosine_similarity(d_fused, d_plain, dim=0) > 0.999
    assert ((d_fused - d_plain).abs() > 1e-6).float().mean() < 1e-3 and (
        d_fused - d_plain
    ).abs().max() < 5e-5


def test_cached_reference_equals_a_fresh_reference_forward_on_cuda(tiny):
    _, setup = tiny
    fine, coarse = fresh_reference_logits(
        setup
    )  # fp32, full context; the cache is bf16 autocast, trimmed
    torch.testing.assert_close(setup.ref_fine, fine, rtol=3e-2, atol=5e-2)
    torch.testing.assert_close(setup.ref_coarse, coarse, rtol=3e-2, atol=5e-2)


def test_whole_step_cuda_graph_follows_the_eager_step(tiny):
    model, setup = tiny
    steps = 5
    d_eager, eager = _update(model, setup, OURS, steps=steps)
    m = copy.deepcopy(model).train()
    before = _flat(m)
    opt = make_optimizer(m, GRAPHED, 1e-4, setup)
    graphed = GraphedStep(lambda: _apply(m, opt, step_loss(m, setup, GRAPHED)), opt, warmup=3)
    for _ in range(steps - 3):
        loss = graphed()
    torch.cuda.synchronize()
    d_graph = _flat(m) - before
    assert torch.isfinite(loss) and F.cosine_similarity(d_graph, d_eager, dim=0) > 0.99
    torch.testing.assert_close(d_graph.norm(), d_eager.norm(), rtol=2e-2, atol=0)
    with (
        torch.no_grad()
    ):  # the next replay's loss equals an eager loss on the graph's current weights
        eager_loss = step_loss(copy.deepcopy(m), setup, OURS)
    torch.testing.assert_close(graphed().detach(), eager_loss, rtol=3e-2, atol=3e-2)
    del eager


def test_trainer_runs_on_cuda_and_forgets(tmp_path):
    from kt_lib.experiment import Experiment
    from kt_lib.world.model import world_model

    model, tokenizer, _ = world_model(progress=False)
    exp = Experiment(
        ["beagle", "Border collie", "Doberman", "Irish setter"],
        model.to(CUDA),
        tokenizer,
        eval_per_class=20,
    )
    nhl = exp.run("nhl_kl")
    assert nhl["Q"] > 0.9 and nhl["U"] > 0.8, nhl  # the CPU run of this request: Q 1.0, U ~0.9
    salun = exp.run("salun")
    assert 0 <= salun["QU"] <= 1
