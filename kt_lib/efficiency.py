"""What an unlearning run cost, in every run's row (`kt_lib.unlearn.UnlearnResult.efficiency`, the row's
columns EFFICIENCY, `kt unlearn --json`'s 'efficiency'): `seconds` of training (the result's own field), the
peak memory (`PeakMemory`: what it measures on CUDA and on CPU) and the parameters whose value the run
changed (`parameters_changed`). Importing it loads no torch (`kt unlearn`'s cached rerun reads EFFICIENCY).
"""

from __future__ import annotations

import sys

__all__ = ["EFFICIENCY", "PeakMemory", "parameters_changed"]
EFFICIENCY = ("seconds", "peak_memory_mb", "memory_added_mb", "memory", "params_changed")
EFFICIENCY += ("params_total", "tensors_changed", "tensors_total")


class PeakMemory:
    """The peak memory of a block, in MiB: `peak_memory_mb` and `memory_added_mb` (the peak minus what was in
    use when the block began: what the block needed beyond it; on CPU memory the process had freed but kept,
    and reused, is not counted), and `memory`, what was measured:

    - CUDA: torch's `max_memory_allocated` on the device, reset at the start (tensors only; not the caching
      allocator's reserve, not other processes);
    - otherwise (CPU), on Linux: the whole process's peak resident set size (VmHWM of /proc/self/status)
      since the start, which resets it (writing 5 to /proc/self/clear_refs): the model, the data and all
      the process held before are counted in the peak, not in the added part;
    - elsewhere: `ru_maxrss`, the process's peak since it began (it cannot be reset): the peak is at least
      the run's, the added part is only how far the run raised an earlier peak (0: not above it)."""

    def __init__(self, device):
        import torch

        self.device, self.reset = torch.device(device), False
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            self.kind = "cuda max_memory_allocated"
        elif _reset_peak_rss():
            self.reset = True
            self.start, self.kind = _rss()["VmRSS"], "process peak RSS"
        else:
            self.start, self.kind = _max_rss(), "process peak RSS since its start (ru_maxrss)"

    def stop(self) -> dict:
        """{peak_memory_mb, memory_added_mb, memory} since the start."""
        import torch

        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            peak = _rss()["VmHWM"] if self.reset else _max_rss()
        mib = lambda b: round(b / 2**20, 1)  # noqa: E731
        added = mib(max(0, peak - self.start))
        return dict(peak_memory_mb=mib(peak), memory_added_mb=added, memory=self.kind)


def _rss() -> dict:
    """VmRSS and VmHWM of this process (bytes), from /proc/self/status."""
    with open("/proc/self/status") as f:
        lines = [line.split() for line in f if line.startswith(("VmRSS:", "VmHWM:"))]
    return {parts[0][:-1]: int(parts[1]) * 1024 for parts in lines}


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux 4.0+); False where it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return set(_rss()) == {"VmRSS", "VmHWM"}
    except OSError:
        return False


def _max_rss() -> int:
    import resource  # POSIX only

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def parameters_changed(original, model) -> dict:
    """How many parameters of `model` differ from the same-named ones of `original` (elements and tensors,
    of all): an edit of one matrix changes one tensor, a fine-tune most of them."""
    import torch

    theirs = dict(original.named_parameters())
    with torch.no_grad():
        diffs = [_changed(theirs.get(name), p) for name, p in model.named_parameters()]
    sizes = [p.numel() for p in model.parameters()]
    return dict(
        params_changed=sum(diffs),
        params_total=sum(sizes),
        tensors_changed=sum(d > 0 for d in diffs),
        tensors_total=len(sizes),
    )


def _changed(before, p) -> int:
    """How many elements of `p` differ from `before` (all of them: no same-shaped tensor before)."""
    same_shape = before is not None and before.shape == p.shape
    return int((before.to(p) != p).sum()) if same_shape else p.numel()
