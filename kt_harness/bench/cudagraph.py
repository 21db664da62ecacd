"""Whole-step CUDA graphs: record one training step (forward, backward, optimizer step) once, then replay it.

A CLIP unlearning step is partly launch-bound: the text tower runs ~100 short prompts of ~11 tokens through
12+ layers, hundreds of small kernels whose launch cost rivals their work. Replaying a captured graph issues
all of them with one launch. PyTorch's rules for whole-network capture apply (see "CUDA Graphs" in the
torch.cuda docs):

- every input is a *static* tensor: new data is copied into it, never rebound;
- nothing in the step syncs with the host (no `.item()`, no data-dependent branch or shape);
- the optimizer is built with `capturable=True` (Adam then keeps its step count on the device);
- autocast runs with `cache_enabled=False` (`kt_lib.zeroshot.autocast(device, cache=False)`);
- gradients are set to None before capture, so backward writes (not accumulates) them on every replay.

Experimental: `kt bench step` times it on CUDA (`tests/test_gpu.py` checks it); the trainer does not use it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class GraphedStep:
    """`step = GraphedStep(forward_backward_step, optimizer)`; `step()` replays and returns the loss tensor.

    `forward_backward_step()` must compute the loss, call `backward()` on it, call `optimizer.step()` and
    return the loss, without zeroing gradients. The `warmup` eager steps (on a side stream, as the capture
    rules require) and every replay update the weights like ordinary steps; the capture itself computes
    nothing.
    """

    def __init__(
        self,
        forward_backward_step: Callable[[], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        warmup: int = 3,
    ):
        if not torch.cuda.is_available():
            raise RuntimeError("CUDA graphs need a CUDA device; on CPU call the eager step instead")
        if not all(g.get("capturable", False) for g in optimizer.param_groups):
            raise ValueError(
                "build the optimizer with capturable=True, e.g. torch.optim.Adam(..., "
                "fused=True, capturable=True)"
            )
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                optimizer.zero_grad(set_to_none=True)
                forward_backward_step()
        torch.cuda.current_stream().wait_stream(side)
        optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss = forward_backward_step()

    def __call__(self) -> torch.Tensor:
        self.graph.replay()
        return self.loss
