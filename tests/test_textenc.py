import pytest
import torch

from kt_lib.textenc import encode_text, trim_tokens
from kt_lib.world.model import create_world_model


def test_trimmed_text_encoding_equals_full_context():
    model, tokenizer = create_world_model()
    model.eval()
    tokens = tokenizer(
        [
            "a photo of a beagle.",
            "a drawing of a Greater Swiss Mountain dog, a kind of sennenhunde.",
        ]
    )
    full = model.encode_text(tokens)
    assert trim_tokens(tokens).shape[1] < tokens.shape[1]
    assert torch.allclose(encode_text(model, tokens), full, atol=1e-5)
    assert torch.allclose(encode_text(model, tokens, length=20), full, atol=1e-5)
    with pytest.raises(ValueError, match="cut"):
        encode_text(model, tokens, length=5)


@pytest.mark.parametrize("arch", ["kt-tiny-dogworld", "ViT-B-32"])
def test_shared_prefix_encoding_equals_full_context_with_gradients(arch):
    """A template's shared words are encoded once (kt_lib.textenc.shared_prefix): the features and every
    parameter's gradient equal open_clip's own encode_text over the full 77-token context."""
    from kt_lib.models import load_model
    from kt_lib.textenc import shared_prefix
    from kt_lib.world.config import WorldTaxonomy

    model, _, tokenizer = load_model(arch, "random", device="cpu")
    model.train()
    tax = WorldTaxonomy()
    tokens = tokenizer([f"a photo of a {c}." for c in [*tax.fine[:20], *tax.coarse[:5]]])
    assert shared_prefix(model, trim_tokens(tokens)) == 5  # <sot> a photo of a
    params = [p for p in model.parameters() if p.requires_grad]

    def grads(features):
        loss = features.square().sum() + features[:, 0].sum()  # asymmetric: every row, every column
        return torch.autograd.grad(loss, params, allow_unused=True)

    ours = encode_text(model, tokens, normalize=True)
    full = model.encode_text(tokens, normalize=True)
    assert torch.allclose(ours, full, atol=1e-5)
    for a, b in zip(grads(ours), grads(full)):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_shared_prefix_leaves_every_pooled_token_in_the_rows():
    """Identical prompts share every column but must keep their end-of-text token: the prefix stops before
    it; a single prompt has no prefix to share."""
    from kt_lib.textenc import shared_prefix

    model, tokenizer = create_world_model()
    same = trim_tokens(tokenizer(["a photo of a beagle."] * 3))
    assert shared_prefix(model, same) == int(same[0].argmax())
    assert shared_prefix(model, same[:1]) == 0
    assert torch.allclose(
        encode_text(model.eval(), same),
        model.encode_text(tokenizer(["a photo of a beagle."] * 3)),
        atol=1e-5,
    )
