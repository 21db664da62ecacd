import pytest
import torch

from kt_lib.fast.textenc import encode_text, trim_tokens
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
