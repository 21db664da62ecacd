"""Trainer mechanics on a small random CLIP (fast); behaviour on the world model is in test_paper_phenomena.py."""

import copy

import pytest
import torch

from kt_lib.efficiency import EFFICIENCY, parameters_changed
from kt_lib.losses import nontarget_max
from kt_lib.prompts import PromptBank, clip_logits, reference_logits
from kt_lib.step import set_trainable, unlearn_step
from kt_lib.unlearn import UnlearnConfig, default_lr, optimizer_and_schedule, unlearn
from kt_lib.world.config import WorldTaxonomy
from kt_lib.world.model import create_world_model

pytestmark = pytest.mark.unit

TAX = WorldTaxonomy()


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model, tokenizer = create_world_model()
    model.eval()
    images = torch.randn(12, 3, 32, 32)
    fine = torch.tensor([TAX.fine_index("Samoyed")] * 6 + [TAX.fine_index("vizsla")] * 6)
    coarse = torch.tensor(TAX.fine_to_coarse)[fine]
    return model, tokenizer, images, fine, coarse


def run(setup, **kw):
    model, tokenizer, images, fine, coarse = setup
    cfg = UnlearnConfig(**{"num_epochs": 2, "batch_size": 4, "lr": 1e-3, **kw})
    return unlearn(model, tokenizer, images, fine, coarse, TAX.fine, TAX.coarse, cfg)


def test_caller_model_is_untouched_and_history_is_tidy(setup):
    before = {k: v.clone() for k, v in setup[0].state_dict().items()}
    res = run(setup, method="nhl_kl")
    assert all(torch.equal(before[k], v) for k, v in setup[0].state_dict().items())
    assert not all(torch.equal(before[k], v) for k, v in res.model.state_dict().items())
    assert len(res.history) == 6 and {"loss", "lr", "epoch", "template"} <= set(res.history.columns)
    assert res.stopped is None


def test_same_seed_same_weights_on_cpu(setup):
    a, b = run(setup, method="ga_kl", seed=1), run(setup, method="ga_kl", seed=1)
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values())
    )


def test_cached_reference_equals_a_fresh_forward(setup):
    model, tokenizer, images, fine, coarse = setup
    bank = PromptBank(tokenizer, TAX.fine, TAX.coarse, UnlearnConfig().templates, "cpu")
    ref_fine, ref_coarse = reference_logits(model, images, bank)
    with torch.no_grad():
        for t in range(len(bank.fine)):
            full_f = torch.nn.functional.normalize(
                model.encode_text(
                    torch.nn.functional.pad(bank.fine[t], (0, 24 - bank.fine[t].shape[1]))
                ),
                dim=-1,
            )
            full_c = torch.nn.functional.normalize(
                model.encode_text(
                    torch.nn.functional.pad(bank.coarse[t], (0, 24 - bank.coarse[t].shape[1]))
                ),
                dim=-1,
            )
            f, c = clip_logits(model, images, full_f, full_c)
            assert torch.allclose(ref_fine[t], f, atol=1e-4) and torch.allclose(
                ref_coarse[t], c, atol=1e-4
            )


@pytest.mark.parametrize("towers", ["image", "text"])
def test_one_tower_only(setup, towers):
    res = run(setup, method="nhl_kl", towers=towers)
    frozen = "transformer." if towers == "image" else "visual."
    orig = setup[0].state_dict()
    for k, v in res.model.state_dict().items():
        if k.startswith(frozen):
            assert torch.equal(v, orig[k]), k


def test_non_finite_loss_stops_and_keeps_finite_weights(setup, monkeypatch):
    import kt_lib.step as U

    calls = {"n": 0}
    real = U.compute_loss

    def flaky(method, inputs, cfg):
        calls["n"] += 1
        loss, parts = real(method, inputs, cfg)
        nan = float(
            "nan"
        )  # as the real compute_loss would report it: the tensor and its float both NaN
        return (loss * nan, dict(parts, loss=nan)) if calls["n"] == 4 else (loss, parts)

    monkeypatch.setattr(U, "compute_loss", flaky)
    res = run(setup, method="nhl_kl")
    assert res.stopped and "kept the last good weights" in res.stopped
    assert len(res.history) == 3
    assert all(torch.isfinite(p).all() for p in res.model.parameters())


def test_salun_keeps_unsalient_weights_fixed(setup):
    res = run(setup, method="salun", salun_fraction=0.1)
    orig = setup[0].state_dict()
    changed = sum(
        int((res.model.state_dict()[k] != v).sum())
        for k, v in orig.items()
        if v.is_floating_point()
    )
    total = sum(v.numel() for v in orig.values() if v.is_floating_point())
    assert 0 < changed <= 0.1 * total + 10


def test_task_vector_moves_away_from_the_finetuned_direction(setup):
    res = run(setup, method="task_vector", task_vector_lambda=1.0)
    assert any(
        not torch.equal(v, setup[0].state_dict()[k]) for k, v in res.model.state_dict().items()
    )


def test_holdout_selection_and_bad_configs(setup):
    res = run(setup, method="nhl_kl", select="holdout", holdout_fraction=0.25)
    assert "holdout_score" in res.history.columns and 0 <= res.info["selected_epoch"] < 2
    with pytest.raises(ValueError, match="nhl_kl"):
        UnlearnConfig(method="nhl-kl")
    with pytest.raises(ValueError, match="towers"):
        UnlearnConfig(towers="vision")
    model, tokenizer, images, fine, coarse = setup
    with pytest.raises(ValueError, match="empty"):
        unlearn(
            model,
            tokenizer,
            images[:0],
            fine[:0],
            coarse[:0],
            TAX.fine,
            TAX.coarse,
            UnlearnConfig(),
        )


def test_lr_none_is_resolved_to_the_models_own_rate(setup):
    """lr=None (the default) trains at default_lr(model), recorded in the run's config
    (default_lr itself: tests/test_presets.py)."""
    model, tokenizer, images, fine, coarse = setup
    cfg = UnlearnConfig(num_steps=1, batch_size=4)
    assert cfg.lr is None
    res = unlearn(model, tokenizer, images, fine, coarse, TAX.fine, TAX.coarse, cfg)
    assert res.info["config"]["lr"] == default_lr(model) and len(res.history) == 1


def test_compact_vocabulary_training_equals_full_embedding_training(setup, monkeypatch):
    import kt_lib.unlearn as U

    compact = run(setup, method="nhl_kl")
    monkeypatch.setattr(U, "compact_vocabulary", lambda model, bank: None)
    full = run(setup, method="nhl_kl")
    for (k, a), b in zip(compact.model.state_dict().items(), full.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    assert compact.model.token_embedding.weight.shape[0] == 49408


def test_the_trainer_runs_unlearn_step_once_per_batch(setup, monkeypatch):
    """`unlearn` is `unlearn_step` in a loop: every history row is one call of the public step."""
    import kt_lib.unlearn as U

    calls = []

    def counted(*args, **kw):
        calls.append(kw["method"].name)
        return unlearn_step(*args, **kw)

    monkeypatch.setattr(U, "unlearn_step", counted)
    res = run(setup, method="nhl_kl")
    assert calls == ["nhl_kl"] * len(res.history) and len(calls) == 6


def test_one_step_by_hand_pushes_the_target_below_the_best_other_class(setup):
    """NHL's step lowers the target logit relative to the best other class and moves the weights; a
    non-finite loss leaves them untouched."""
    model, tokenizer, images, fine, coarse = setup
    model = copy.deepcopy(model).train()
    bank = PromptBank(tokenizer, TAX.fine, TAX.coarse, UnlearnConfig().templates[:1], "cpu")
    opt, _ = optimizer_and_schedule(set_trainable(model, "both"), UnlearnConfig(lr=1e-3), 1)

    def gap():
        with torch.no_grad():
            logits, _ = clip_logits(model, images, *bank.features(model, 0))
        return float(
            (logits.gather(1, fine[:, None]).squeeze(1) - nontarget_max(logits, fine)).mean()
        )

    before = gap()
    prompts = lambda m: bank.features(m, 0)  # noqa: E731
    parts = unlearn_step(model, opt, images, fine, coarse, prompts, method="nhl")
    assert set(parts) == {"nhl", "loss"} and parts["loss"] > 0
    assert gap() < before
    state = {k: v.clone() for k, v in model.state_dict().items()}
    nan_images = images * float("nan")
    parts = unlearn_step(model, opt, nan_images, fine, coarse, prompts, method="nhl")
    assert parts["loss"] != parts["loss"]
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_the_budget_is_num_steps_whatever_the_request_size(setup):
    """The default budget counts optimiser steps, so a one-breed request trains as long as a four-breed one
    (8 epochs over 30 images would be 8 steps: too few for GA to collapse; issue 10)."""
    from kt_lib.presets import DEFAULTS

    assert UnlearnConfig().num_steps == DEFAULTS["num_steps"] and UnlearnConfig().num_epochs is None
    res = run(setup, method="nhl_kl", num_epochs=None, num_steps=5)  # 3 batches of 4 per epoch
    assert len(res.history) == 5 and res.history.epoch.tolist() == [0, 0, 0, 1, 1]
    assert res.info["epochs"] == 2 and res.info["config"]["num_steps"] == 5
    assert UnlearnConfig(num_steps=5, batch_size=4).budget(12) == (5, 2, 3)
    assert UnlearnConfig(num_epochs=2, batch_size=4).budget(12) == (6, 2, 3)
    assert UnlearnConfig(num_steps=5, batch_size=32).budget(30) == (5, 5, 1)
    with pytest.raises(ValueError, match="num_steps or num_epochs, not both"):
        UnlearnConfig(num_steps=5, num_epochs=2)
    with pytest.raises(ValueError, match="positive"):
        UnlearnConfig(num_steps=0)


def test_a_layer_that_names_a_budget_replaces_the_other():
    from kt_lib.presets import DEFAULTS, layer_settings, preset

    assert layer_settings(DEFAULTS, {"num_epochs": 3})["num_epochs"] == 3
    assert "num_steps" not in layer_settings(DEFAULTS, {"num_epochs": 3})
    paper = preset("paper", "nhl_kl", "imgnetdogs")
    assert paper["num_epochs"] == 8 and "num_steps" not in paper
    both = layer_settings(paper, {"margin": 3.0}, {"num_steps": 7})
    assert both["num_steps"] == 7 and "num_epochs" not in both and both["margin"] == 3.0
    UnlearnConfig(**{k: v for k, v in both.items()})  # one budget: valid


def test_efficiency_counts_the_parameters_a_run_changed_and_its_memory(setup):
    model = setup[0]
    total = sum(p.numel() for p in model.parameters())
    trained = run(setup, method="nhl_kl")
    eff = trained.efficiency
    assert set(eff) | {"seconds"} == set(EFFICIENCY) and trained.seconds > 0
    assert eff["params_total"] == total and eff["tensors_total"] == len(list(model.parameters()))
    assert 0 < eff["params_changed"] <= total and eff["tensors_changed"] > 1
    assert eff["params_changed"] == parameters_changed(model, trained.model)["params_changed"]
    # on CPU the process's peak RSS: the model and the data at least; the part added can be 0 (an allocator
    # reuses memory an earlier test freed)
    assert eff["peak_memory_mb"] > 10 and 0 <= eff["memory_added_mb"] <= eff["peak_memory_mb"]
    # the image tower alone: no text weight moves
    image = run(setup, method="nhl_kl", towers="image").efficiency
    assert 0 < image["params_changed"] < eff["params_changed"]
    # projection edits one matrix, the image tower's output projection
    proj = run(setup, method="projection").efficiency
    assert proj["tensors_changed"] == 1
    assert 0.5 * model.visual.proj.numel() < proj["params_changed"] <= model.visual.proj.numel()


PEAK_CHILD = """
import json, torch
from kt_lib.efficiency import PeakMemory
memory = PeakMemory("cpu")
x = torch.ones(64 * 2**20 // 4)  # 64 MiB, written
big = memory.stop()
del x
small = PeakMemory("cpu").stop()  # nothing allocated: the 64 MiB peak before it is not counted
print(json.dumps([memory.kind, big, small]))
"""


def test_peak_memory_is_the_blocks_own_not_an_earlier_peak():
    """In a fresh process: in a long-lived one (the whole suite, ~5 GB resident) freed pages that stay
    resident can hold the 64 MiB block without the resident set growing (CI measured 0 MiB added there)."""
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", PEAK_CHILD], capture_output=True, text=True, check=True
    )
    kind, big, small = json.loads(out.stdout.strip().splitlines()[-1])
    if kind != "process peak RSS":
        pytest.skip(
            "the peak RSS cannot be reset here (not Linux): ru_maxrss is the process's peak"
        )
    assert big["memory_added_mb"] >= 60 and small["memory_added_mb"] < 30, (big, small)
    assert big["peak_memory_mb"] - small["peak_memory_mb"] >= 40
