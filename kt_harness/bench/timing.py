"""Timing helpers shared by the benchmarks: wall-clock timing with device syncs, TF32 control, environment."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import time

import open_clip
import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def no_tf32():
    """True fp32 matmuls/convolutions on CUDA (restored afterwards)."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def timed(fn, device: torch.device, repeats: int, warmup: int = 0):
    """(wall seconds of each of `repeats` calls after `warmup` untimed calls, the last call's result)."""
    for _ in range(warmup):
        fn()
    sync(device)
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return times, out


def _cpu_name() -> str:
    try:
        return next(
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict:
    """Device, versions, thread count and UTC date for a report."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return dict(
        device=device.type,
        device_name=name,
        torch=torch.__version__,
        open_clip=open_clip.__version__,
        python=platform.python_version(),
        cpu_threads=torch.get_num_threads(),
        load_average_1m=round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )
