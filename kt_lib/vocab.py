"""Train only the token-embedding rows a run uses: exact (unused rows get zero gradient, which Adam leaves
unchanged) and it skips the other ~49,000 rows in backward and optimiser."""

from __future__ import annotations

import torch


class CompactTokenEmbedding(torch.nn.Module):
    """A drop-in `token_embedding` holding only the rows of `used_ids`; `merge_into(full)` writes them back."""

    def __init__(self, full: torch.nn.Embedding, used_ids: torch.Tensor):
        super().__init__()
        used_ids = torch.unique(used_ids)
        lookup = torch.zeros(full.num_embeddings, dtype=torch.long)
        lookup[used_ids] = torch.arange(len(used_ids))
        self.register_buffer("lookup", lookup, persistent=False)
        known = torch.zeros(full.num_embeddings, dtype=torch.bool)
        known[used_ids] = True
        self.register_buffer("known", known, persistent=False)
        self.register_buffer("used_ids", used_ids, persistent=False)
        self.register_buffer("frozen", full.weight.detach(), persistent=False)  # the other rows
        self.weight = torch.nn.Parameter(full.weight.detach()[used_ids].clone())
        self.num_embeddings = full.num_embeddings

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        # No data-dependent branch: a host sync per forward would stall the GPU and break CUDA graphs.
        trained = torch.nn.functional.embedding(self.lookup[ids], self.weight)
        return torch.where(
            self.known[ids].unsqueeze(-1), trained, self.frozen[ids].to(trained.dtype)
        )

    @torch.no_grad()
    def merge_into(self, full: torch.nn.Embedding) -> torch.nn.Embedding:
        full.weight[self.used_ids] = self.weight.to(full.weight.dtype)
        return full


def compact_vocabulary(model, bank):
    """Swap in a `CompactTokenEmbedding` of the rows `bank` (a `PromptBank`, or token tensors) uses; returns
    the full embedding to merge back into, or None when the model has no trainable plain embedding."""
    full = getattr(model, "token_embedding", None)
    if not isinstance(full, torch.nn.Embedding) or not full.weight.requires_grad:
        return None
    used = torch.cat([t.flatten() for t in getattr(bank, "joint", bank)]).cpu()
    model.token_embedding = CompactTokenEmbedding(full, used).to(full.weight.device)
    return full
