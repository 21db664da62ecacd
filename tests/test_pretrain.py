import numpy as np
import pytest
import torch

from kt_lib.world.model import create_world_model
from kt_lib.world.pretrain import (
    PretrainConfig,
    _describes,
    _image_keys,
    caption_bank,
    multi_positive_loss,
    pretrain,
)


def test_caption_bank_meanings():
    texts, meta = caption_bank()
    assert "a photo of a beagle." in texts and "a drawing of a hound." in texts
    i = texts.index("a photo of a golden retriever, a kind of retriever.")
    arrays = dict(
        fine=np.array([52, 52, 0]),
        family=np.array([-1, -1, -1]),
        label=np.array([-1, -1, -1]),
        domain=np.array([0, 1, 0]),
    )
    from kt_lib.world.config import BREEDS

    arrays["fine"][:2] = list(BREEDS).index("golden retriever")
    pos = _describes(_image_keys(arrays), meta)
    assert (
        pos[0, i] and not pos[1, i] and not pos[2, i]
    )  # photo caption: not the drawing, not another breed


def test_multi_positive_loss_ignores_padding_and_rewards_matches():
    positive = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 0]], dtype=torch.bool)  # caption 3 is padding
    good = torch.tensor([[5.0, 5.0, -5.0, 0.0], [-5.0, -5.0, 5.0, 0.0]])
    assert multi_positive_loss(good, positive) < multi_positive_loss(-good, positive)
    assert torch.isfinite(multi_positive_loss(torch.zeros(2, 4), positive))


def test_a_few_steps_lower_the_loss(small_world):
    model, tokenizer = create_world_model()
    cfg = PretrainConfig(num_steps=12, batch_size=16, lr=2e-3, warmup_steps=2)
    history = pretrain(model, tokenizer, small_world, cfg, progress=False)
    losses = history["loss"]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert (
        model.token_embedding.weight.abs().sum(1) > 0
    ).sum() < 2000  # unused vocabulary rows zeroed


def test_bad_pretrain_config():
    with pytest.raises(ValueError, match="num_steps"):
        PretrainConfig(num_steps=0)


def test_pretraining_is_reproducible_for_a_seed(small_world):
    cfg = PretrainConfig(num_steps=3, batch_size=16, warmup_steps=1)
    states = []
    for _ in range(2):
        torch.manual_seed(123 + len(states))  # the global RNG state must not matter
        model, tokenizer = create_world_model(seed=cfg.seed)
        pretrain(model, tokenizer, small_world, cfg, progress=False)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_world_model_trains_once_then_loads_from_the_cache(
    small_world, tmp_path, monkeypatch, capsys
):
    from kt_lib.world.model import world_model

    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    cfg = PretrainConfig(num_steps=3, batch_size=16, warmup_steps=1)
    model, _, info = world_model(small_world, cfg, progress=True)
    assert not info["loaded"] and info["checkpoint"].startswith(str(tmp_path))
    again, _, info2 = world_model(small_world, cfg, progress=False)
    assert info2["loaded"] and info2["checkpoint"] == info["checkpoint"]
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values())
    )
    assert info2["train_seconds"] == info["train_seconds"]  # metadata travels with the checkpoint


def test_pretraining_gives_the_caller_its_thread_count_back(small_world):
    """Pretraining runs on cfg.threads; a test worker (one thread each under `make test`) or a notebook that
    pretrained must keep its own count afterwards, after a failed run too: a CI run once kept two threads
    in one worker for the rest of the suite, beside the other worker's."""
    before = torch.get_num_threads()
    cfg = PretrainConfig(num_steps=1, batch_size=8, warmup_steps=1, threads=before + 1)
    seen = []
    try:
        torch.set_num_threads(1)
        model, tokenizer = create_world_model(seed=cfg.seed)
        encode = model.encode_image

        def spy(images):
            seen.append(torch.get_num_threads())
            return encode(images)

        model.encode_image = spy
        pretrain(model, tokenizer, small_world, cfg, progress=False)
        assert seen == [before + 1] and torch.get_num_threads() == 1
        model.encode_image = lambda images: encode(images) * float("nan")
        with pytest.raises(FloatingPointError, match="lower lr"):
            pretrain(model, tokenizer, small_world, cfg, progress=False)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
