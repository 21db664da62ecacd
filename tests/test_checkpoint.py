import pytest
import torch

from kt_lib.checkpoint import load_checkpoint, save_checkpoint
from kt_lib.vocab import CompactTokenEmbedding
from kt_lib.world.model import create_world_model


def test_roundtrip_is_exact_with_compact_vocab(tmp_path):
    model, _ = create_world_model()
    with torch.no_grad():
        model.token_embedding.weight[1000:] = 0  # as after pretraining: unused rows are zero
    path = save_checkpoint(
        model.state_dict(), tmp_path / "m.safetensors", {"note": "x"}, compact_vocab=True
    )
    state, meta = load_checkpoint(path)
    assert meta == {"note": "x"}
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v), k
    full = save_checkpoint(model.state_dict(), tmp_path / "full.safetensors")
    assert path.stat().st_size < full.stat().st_size / 4
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write leaves no temp file


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(bad)


def test_compact_embedding_trains_exactly_like_the_full_one():
    torch.manual_seed(0)
    full_a = torch.nn.Embedding(50, 4)
    full_b = torch.nn.Embedding(50, 4)
    full_b.load_state_dict(full_a.state_dict())
    ids = torch.tensor([[1, 3, 3, 7], [7, 2, 1, 1]])
    compact = CompactTokenEmbedding(full_b, ids.flatten())
    opt_a = torch.optim.Adam(full_a.parameters(), lr=0.1)
    opt_b = torch.optim.Adam(compact.parameters(), lr=0.1)
    for _ in range(3):
        for emb, opt in ((full_a, opt_a), (compact, opt_b)):
            opt.zero_grad()
            (emb(ids) ** 2).sum().backward()
            opt.step()
    merged = compact.merge_into(full_b)
    assert torch.allclose(merged.weight, full_a.weight, atol=1e-6)
    unseen = torch.tensor([[40, 1]])
    assert torch.allclose(
        compact(unseen), full_a(unseen), atol=1e-6
    )  # unseen ids use the frozen rows
