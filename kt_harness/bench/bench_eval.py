"""Speed benchmark of zero-shot evaluation: end to end from JPEG vs pure encode vs the tensor cache.

`bench_eval` times zero-shot image encoding three ways on a generated folder of JPEGs: end to end (decode,
preprocess, encode), pure encode of preprocessed tensors already on the device, and the tensor-cache path
(`kt_lib.knowledge.datasets.cached_tensors` hit, then encode). The paths take turns, so other load hits them alike.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.datasets import ImageFolder

from kt_harness.bench.step_variants import build_model, image_size
from kt_harness.bench.timing import environment, timed
from kt_lib.models import get_device
from kt_lib.world.model import MODEL_NAME
from kt_lib.zeroshot import encode_images


def write_jpegs(folder: Path, n: int, size: int, seed: int = 0) -> list[Path]:
    """`n` smooth random RGB JPEGs of `size` x `size` pixels (quality 90) in `folder`."""
    rng, files = np.random.default_rng(seed), [folder / f"img{i:05d}.jpg" for i in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        small = rng.integers(0, 256, (max(2, size // 8), max(2, size // 8), 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(f, quality=90)
    return files


def eval_transform(model):
    """The model's own eval preprocessing (mean/std, resize mode from its preprocess_cfg)."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    cfg = getattr(model.visual, "preprocess_cfg", None) or {"size": image_size(model)}
    return image_transform_v2(PreprocessCfg(**cfg), is_train=False)


def bench_eval(
    model_name: str = MODEL_NAME,
    n_images: int | None = None,
    device="auto",
    batch: int = 256,
    jpeg_size: int | None = None,
    repeats: int = 3,
    workers: int = 0,
    seed: int = 0,
) -> dict:
    """Images/s of zero-shot encoding: end to end from JPEG, pure encode, and the tensor-cache path."""
    device = get_device(device)
    n_images = n_images or (2048 if device.type == "cuda" else 256)
    if n_images < 1 or batch < 1 or repeats < 1:
        raise ValueError("n_images, batch and repeats must be positive")
    from kt_lib.knowledge.datasets import cached_tensors

    model = build_model(model_name, seed)[0].to(device).eval()
    size, preprocess = image_size(model), eval_transform(model)
    jpeg_size = jpeg_size or 2 * size

    with tempfile.TemporaryDirectory(prefix="kt-bench-eval-") as tmp:
        write_jpegs(Path(tmp) / "jpegs" / "all", n_images, jpeg_size, seed)  # one class folder
        decoded = ImageFolder(Path(tmp) / "jpegs")  # (RGB PIL image, 0) per file, in name order
        loader = torch.utils.data.DataLoader(
            ImageFolder(decoded.root, preprocess), batch_size=batch, num_workers=workers
        )

        def from_cache():
            return cached_tensors(decoded, "bench-jpegs", preprocess, cache_dir=tmp)

        t0 = time.perf_counter()
        on_device = from_cache()["images"].to(device)  # builds the cache: decode, preprocess, save
        build_s = time.perf_counter() - t0
        paths = dict(
            end_to_end=lambda: torch.cat([encode_images(model, x, batch) for x, _ in loader]),
            encode=lambda: encode_images(model, on_device, batch),
            cache=lambda: encode_images(model, from_cache()["images"], batch),
        )
        paths["encode"]()  # warm-up (kernels, allocator)
        times, feats = {k: [] for k in paths}, {}
        for _ in range(repeats):  # the paths take turns, so that other load hits them alike
            for k, fn in paths.items():
                dt, out = timed(fn, device, 1)
                times[k] += dt
                feats[k] = out.float().cpu()
    ips = {k: round(n_images / statistics.median(t), 1) for k, t in times.items()}
    diff = max(float((feats[k] - feats["encode"]).abs().max()) for k in ("end_to_end", "cache"))
    return dict(
        benchmark="eval",
        model=model_name,
        n_images=n_images,
        batch=batch,
        jpeg_size=jpeg_size,
        input_size=size,
        repeats=repeats,
        workers=workers,
        **{f"{path}_images_per_s": v for path, v in ips.items()},  # end_to_end, encode, cache
        ratio_cache_over_encode=round(ips["cache"] / ips["encode"], 3),
        ratio_end_to_end_over_encode=round(ips["end_to_end"] / ips["encode"], 3),
        cache_build_s=round(build_s, 3),
        max_abs_feature_diff=diff,
        autocast="bf16" if device.type == "cuda" else "none (fp32)",
        **environment(device),
    )
