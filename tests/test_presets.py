"""kt_lib.presets.default_lr, the rate a run takes when none is given: a model and its name get the same rate,
the rate falls as the image tower widens, the paper's ViT-L/14 gets the paper's NHL+KL rate."""

import open_clip
import pytest
import torch

from kt_lib.presets import PAPER_SETUP, default_lr, model_width
from kt_lib.world.model import MODEL_NAME, create_world_model, register_configs

pytestmark = pytest.mark.unit
VITS = ["ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-L-14-336", "ViT-H-14", "ViT-bigG-14"]
# names whose width the old name rule ("B-" in the name: 1e-6, else 1e-7) misread
MISREAD = ["ViT-B-16-plus", "ViT-B-32-plus-256", "ViT-S-16", "ViT-S-32", "ViT-M-16", "ViT-M-32"]


class Tower(torch.nn.Module):
    """An open_clip ViT as default_lr reads it (the image tower's width) without building ViT-L's weights."""

    def __init__(self, width: int):
        super().__init__()
        self.visual = torch.nn.Module()
        self.visual.transformer = torch.nn.Module()
        self.visual.transformer.width = width


def _config_width(name: str) -> int:
    register_configs()
    return open_clip.get_model_config(name)["vision_cfg"]["width"]


def test_the_world_model_and_its_name_get_the_same_rate():
    model, _ = create_world_model()
    assert model_width(model) == _config_width(MODEL_NAME)
    assert default_lr(model) == default_lr(MODEL_NAME)


@pytest.mark.parametrize("name", VITS + MISREAD)
def test_a_vit_and_its_name_get_the_same_rate(name):
    assert default_lr(Tower(_config_width(name))) == default_lr(name)


def test_the_name_route_reads_the_config_width():
    """ViT-B-16-plus is 896 wide (ViT-L's rate), ViT-S and ViT-M 384 and 512 (ViT-B's)."""
    assert [model_width(n) for n in ("ViT-B-16-plus", "ViT-S-16", "ViT-M-16")] == [896, 384, 512]
    assert default_lr("ViT-B-16-plus") == default_lr("ViT-L-14") == 1e-7
    assert default_lr("ViT-S-16") == default_lr("ViT-M-16") == default_lr("ViT-B-32") == 1e-6


def test_the_rate_falls_as_the_image_tower_widens():
    names = sorted([MODEL_NAME, *VITS, *MISREAD], key=_config_width)
    rates = [default_lr(n) for n in names]
    assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]
    assert default_lr("ViT-L-14") == PAPER_SETUP["imgnetdogs"]["methods"]["nhl_kl"]["lr"]


def test_a_model_without_a_vit_tower_is_asked_for_its_rate():
    with pytest.raises(ValueError, match="pass lr= explicitly"):
        default_lr(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="pass lr= explicitly"):
        default_lr("ViT-B-16-SigLIP")  # a timm image tower: no width in its config
