import pytest
import torch

from kt_lib.checkpoint import save_checkpoint
from kt_lib.models import get_device, load_model
from kt_lib.world.model import MODEL_NAME, create_world_model


def test_tiny_config_builds_with_the_real_open_clip_classes():
    import open_clip

    model, tokenizer = create_world_model()
    assert isinstance(model, open_clip.CLIP)
    assert MODEL_NAME in open_clip.list_models()
    assert tokenizer.context_length == 24
    n = sum(p.numel() for p in model.visual.parameters())
    assert 0.3e6 < n < 2e6
    x = torch.randn(2, 3, 32, 32)
    assert model.encode_image(x).shape == (2, 128)


def test_load_model_from_a_local_kt_checkpoint(tmp_path):
    model, _ = create_world_model()
    path = save_checkpoint(model.state_dict(), tmp_path / "w.safetensors")
    loaded, preprocess, tokenizer = load_model(MODEL_NAME, str(path), device="cpu")
    assert torch.equal(loaded.visual.conv1.weight, model.visual.conv1.weight)
    assert not loaded.training
    from PIL import Image

    assert preprocess(Image.new("L", (50, 40))).shape == (3, 32, 32)  # grayscale -> RGB, resized


def test_unknown_model_names_suggest(monkeypatch):
    with pytest.raises(ValueError, match="ViT-B-32"):
        load_model("ViT-B-23", "openai", device="cpu")


def test_missing_download_names_the_cache_and_the_offline_route(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable once, at import (already done in this process): without this the
    # call went to the network and waited for its timeouts (46 s on a machine without access)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RuntimeError, match="offline|Offline") as err:
        load_model("RN50", "openai", device="cpu", cache_dir=str(tmp_path))
    assert str(tmp_path) in str(err.value) and "local-dir:" in str(err.value)


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(MODEL_NAME, str(tmp_path / "missing.safetensors"), device="cpu")


def test_device_choice():
    assert get_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            get_device("cuda")
