"""Fault injection, in process: damaged caches, unwritable cache folders, bad checkpoints, bad images.

Every cache kt_lib writes (world pools, preprocessed tensors, the world-model cache, sweep results) is
damaged four ways: cut short, emptied, overwritten with random bytes, or replaced by an older format.
Each must be detected, reported in one stderr line and rebuilt to the same content; never trusted and
never a traceback. (Processes, signals and the command line: test_faults_processes.py.)
"""

from __future__ import annotations

import errno
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from kt_lib import cachefile
from kt_lib.cache import RunCache
from kt_lib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from kt_lib.knowledge import datasets as D
from kt_lib.knowledge import realdata as R
from kt_lib.world.data import load_pool, pool_path, render_pool
from kt_lib.world.pretrain import PretrainConfig

DAMAGE = ("truncated", "empty", "random", "older_format")


def damage(path, how: str, older: bytes) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "random":
        path.write_bytes(np.random.default_rng(len(data)).bytes(len(data)))
    else:
        path.write_bytes(older)


def cache_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("kt: ")]


def no_temp_files(folder) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# --- caches ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", DAMAGE)
def test_world_pool_cache_damage_is_reported_and_rerendered(
    how, small_world, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    fresh = render_pool(small_world, "test")
    load_pool(small_world, "test")
    path = pool_path(small_world, "test")
    older = tmp_path / "old.npz"  # the previous release cached plain .npz files
    np.savez(older, **fresh)
    damage(path, how, older.read_bytes())
    capsys.readouterr()
    again = load_pool(small_world, "test")
    lines = cache_lines(capsys.readouterr().err)
    assert len(lines) == 1 and str(path) in lines[0] and "rebuilding" in lines[0]
    assert all(np.array_equal(fresh[k], again[k]) for k in fresh)
    load_pool(small_world, "test")  # the rebuilt file is valid: no second report
    assert cache_lines(capsys.readouterr().err) == [] and no_temp_files(tmp_path)


def test_temp_files_of_killed_writers_are_swept(tmp_path):
    path = tmp_path / "x.ktc"
    orphan = tmp_path / ".x.ktc.999999999-deadbeef.tmp"  # no such process
    live = tmp_path / f".x.ktc.{os.getppid()}-cafef00d.tmp"  # a running writer's
    orphan.write_bytes(b"half")
    live.write_bytes(b"half")
    cachefile.write_bytes(path, b"whole")
    assert not orphan.exists() and live.exists() and path.read_bytes() == b"whole"


def test_cache_format_version_bump_is_detected(tmp_path):
    path = tmp_path / "x.ktc"
    cachefile.write_bytes(path, cachefile.pack(b"payload", "tensors", 1))
    with pytest.raises(cachefile.CacheInvalid, match="format version 1"):
        cachefile.read_cache(path, "tensors", 2)
    with pytest.raises(cachefile.CacheInvalid, match="expected 'world-pool'"):
        cachefile.read_cache(path, "world-pool", 1)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # one flipped bit, same length
    path.write_bytes(bytes(data))
    with pytest.raises(cachefile.CacheInvalid, match="checksum"):
        cachefile.read_cache(path, "tensors", 1)


class Items(torch.utils.data.Dataset):
    def __init__(self, n=5, broken=()):
        self.n, self.broken = n, set(broken)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i in self.broken:
            raise OSError(f"image {i} is truncated")
        return torch.full((3, 2, 2), float(i)), i % 2, 0


@pytest.mark.parametrize("how", DAMAGE)
def test_tensor_cache_damage_is_reported_and_rebuilt(how, tmp_path, capsys):
    first = D.cached_tensors(Items(), "items", cache_dir=tmp_path)
    (path,) = tmp_path.glob("items-*.ktc")
    older = tmp_path / "old.pt"  # the previous release cached plain torch.save files
    torch.save({k: first[k] for k in ("images", "labels")}, older)
    damage(path, how, older.read_bytes())
    capsys.readouterr()
    again = D.cached_tensors(Items(), "items", cache_dir=tmp_path)
    lines = cache_lines(capsys.readouterr().err)
    assert len(lines) == 1 and str(path) in lines[0]
    assert torch.equal(first["images"], again["images"]) and torch.equal(
        first["labels"], again["labels"]
    )


def test_unreadable_items_are_skipped_and_counted_at_the_end(tmp_path):
    with pytest.warns(UserWarning, match="skipped 2 of 6"):
        data = D.cached_tensors(Items(6, broken=(1, 4)), "items", cache_dir=tmp_path)
    assert data["images"][:, 0, 0, 0].tolist() == [0, 2, 3, 5] and data["skipped"].tolist() == [
        1,
        4,
    ]


@pytest.fixture(scope="module")
def tiny_world_model(small_world, tmp_path_factory):
    """(config, state_dict, file bytes) of a 2-step world model pretrained into a fresh cache."""
    from kt_lib.world.model import checkpoint_name, world_model

    cfg = PretrainConfig(num_steps=2, batch_size=8, warmup_steps=1)
    cache = tmp_path_factory.mktemp("wm")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KT_CACHE", str(cache))
        model, _, info = world_model(small_world, cfg, progress=False)
    assert info["loaded"] is False
    return cfg, model.state_dict(), (cache / checkpoint_name(small_world, cfg)).read_bytes()


@pytest.mark.parametrize("how", DAMAGE)
def test_world_model_cache_damage_is_reported_and_retrained(
    how, small_world, tiny_world_model, tmp_path, monkeypatch, capsys
):
    from kt_lib.world.model import checkpoint_name, world_model

    cfg, state, good = tiny_world_model
    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    path = tmp_path / checkpoint_name(small_world, cfg)
    path.write_bytes(good)
    older = tmp_path / "old.safetensors"  # format 1: no kt_format, no checksum
    save_file({k: v.contiguous() for k, v in state.items()}, str(older))
    damage(path, how, older.read_bytes())
    capsys.readouterr()
    again, _, info = world_model(small_world, cfg, progress=False)
    lines = cache_lines(capsys.readouterr().err)
    assert len(lines) == 1 and str(path) in lines[0] and "pretraining it again" in lines[0]
    assert info["loaded"] is False  # rebuilt, not trusted
    for k, v in state.items():
        assert torch.equal(again.state_dict()[k], v), k  # same seed, same machine: same weights
    assert load_checkpoint(path, require_format=2)[1]["pretrain"]["num_steps"] == 2


def _row(i):
    return dict(method="ga", label=f"r{i}", Q=0.5, U=0.25, QU=0.33, per_concept=[])


def test_sweep_cache_cut_mid_line_keeps_every_finished_row(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    cache = RunCache(path)
    for i in range(3):
        cache.put(f"k{i}", _row(i))
    path.write_bytes(path.read_bytes()[:-25])  # the last row cut short, as by a killed writer
    again = RunCache(path)
    lines = cache_lines(capsys.readouterr().err)
    assert len(again) == 2 and "k2" not in again and len(lines) == 1 and "dropped 1" in lines[0]
    again.put("k2", _row(2))
    assert len(RunCache(path)) == 3 and cache_lines(capsys.readouterr().err) == []


@pytest.mark.parametrize("how", ("empty", "random", "older_format", "flipped"))
def test_sweep_cache_damage_is_detected_and_nothing_is_lost(how, tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    cache = RunCache(path)
    for i in range(3):
        cache.put(f"k{i}", _row(i))
    before = path.read_bytes()
    if how == "flipped":
        path.write_bytes(before.replace(b'"U": 0.25', b'"U": 0.95', 1))
    else:
        damage(path, how, b'{"key": "k0", "row": {"Q": 1.0}}\n')  # format 1 lines had no checksum
    damaged = path.read_bytes()
    again = RunCache(path)
    lines = cache_lines(capsys.readouterr().err)
    if how == "empty":
        assert len(again) == 0 and lines == []  # nothing to trust, nothing to report
        return
    assert len(lines) == 1
    if how == "flipped":  # the damaged row is dropped, the others kept
        assert sorted(again._rows) == ["k1", "k2"]
    else:  # another format is moved aside, never trusted and never deleted
        assert len(again) == 0 and (tmp_path / "s.jsonl.old").read_bytes() == damaged


# --- unwritable cache folders ------------------------------------------------------------------------


def test_missing_parents_of_the_cache_are_created(small_world, tmp_path, monkeypatch):
    monkeypatch.setenv("KT_CACHE", str(tmp_path / "a" / "b" / "c"))
    assert len(load_pool(small_world, "test")["images"]) > 0


def test_cache_under_a_file_names_kt_cache(small_world, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("KT_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(cachefile.WriteError, match="KT_CACHE") as err:
        load_pool(small_world, "test")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "code, cause",
    [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "read-only")],
)
def test_failed_cache_write_leaves_no_partial_file(code, cause, small_world, tmp_path, monkeypatch):
    """The write reaches the disk, then fails (full disk, read-only remount, permissions)."""
    monkeypatch.setenv("KT_CACHE", str(tmp_path))

    def fail(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(cachefile.os, "fsync", fail)
    for build in (
        lambda: load_pool(small_world, "test"),
        lambda: D.cached_tensors(Items(), "items", cache_dir=tmp_path),
    ):
        with pytest.raises(cachefile.WriteError, match=f"{cause}.*KT_CACHE"):
            build()
    assert [p.name for p in tmp_path.iterdir()] in ([], [".locks"])  # the builders' lock files
    assert all(p.stat().st_size == 0 for p in tmp_path.glob(".locks/*"))  # hold no data


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_cache_folder(small_world, tmp_path, monkeypatch):
    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(cachefile.WriteError, match="KT_CACHE"):
            load_pool(small_world, "test")
    finally:
        tmp_path.chmod(0o700)


def test_sweep_cache_on_a_full_disk(tmp_path, monkeypatch):
    cache = RunCache(tmp_path / "s.jsonl")
    cache.put("k0", _row(0))

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(cachefile.WriteError, match="disk is full"):
        cache.put("k1", _row(1))
    monkeypatch.undo()
    assert list(RunCache(tmp_path / "s.jsonl")._rows) == ["k0"]


# --- checkpoints ---------------------------------------------------------------------------------------


def _state():
    return {"a.weight": torch.ones(3, 2), "b.bias": torch.zeros(2), "scale": torch.tensor(1.0)}


@pytest.mark.parametrize("interrupt", (KeyboardInterrupt, OSError(errno.ENOSPC, "No space left")))
def test_interrupted_checkpoint_write_keeps_the_old_file(interrupt, tmp_path, monkeypatch):
    import kt_lib.checkpoint as C

    path = save_checkpoint(_state(), tmp_path / "m.safetensors", {"v": 1})
    old = path.read_bytes()

    def half(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(old[: len(old) // 2])
        raise interrupt

    monkeypatch.setattr(C, "save_file", half)
    with pytest.raises(
        KeyboardInterrupt if interrupt is KeyboardInterrupt else cachefile.WriteError
    ):
        save_checkpoint(_state(), path, {"v": 2})
    assert path.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == [
        "m.safetensors"
    ]


@pytest.mark.parametrize("bad", (float("nan"), float("inf")))
def test_checkpoint_with_non_finite_tensor_is_refused_by_name(bad, tmp_path):
    state = _state()
    state["b.bias"][1] = bad
    path = save_checkpoint(state, tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="'b.bias' holds 1 NaN/inf"):
        load_checkpoint(path)


def test_checkpoint_bytes_flipped_fail_the_checksum(tmp_path):
    path = save_checkpoint(_state(), tmp_path / "m.safetensors")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10  # inside a tensor: safetensors itself cannot see it
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(path)


def test_checkpoint_of_another_shape_is_refused_by_name(world_model, tmp_path):
    from kt_lib.models import load_model

    state = {k: v.clone() for k, v in world_model[0].state_dict().items()}
    state["text_projection"] = torch.zeros(3, 3)
    path = save_checkpoint(state, tmp_path / "m.safetensors", compact_vocab=True)
    with pytest.raises(CheckpointError, match=r"'text_projection' is \(3, 3\) in the file"):
        load_model("kt-tiny-dogworld", str(path), device="cpu")
    del state["text_projection"]
    save_checkpoint(state, path, compact_vocab=True)
    with pytest.raises(CheckpointError, match="missing tensors \\['text_projection'\\]"):
        load_model("kt-tiny-dogworld", str(path), device="cpu")


# --- images on the real-data path ------------------------------------------------------------------------


@pytest.fixture()
def odd_images(tmp_path):
    """One folder of awkward files for the taxonomy's 'vizsla' (a space-laden, non-ASCII path)."""
    folder = tmp_path / "données réelles" / "vizsla"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
        folder / "ok photo é.jpg"
    )
    good = (folder / "ok photo é.jpg").read_bytes()
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (folder / "text.jpg").write_text("not an image")
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(folder / "cmyk.jpg")
    Image.fromarray(np.full((8, 8), 0x8080, np.uint16)).save(folder / "sixteen.png")
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putpixel((0, 0), 1)
    pal.save(folder / "palette.png", transparency=0)
    Image.new("L", (8, 8), 77).save(folder / "grey.png")
    Image.new("RGB", (80, 80), (10, 200, 10)).save(folder / "bomb.png")  # over the lowered limit
    return tmp_path / "données réelles"


EXPECTED_PIXEL = {  # what each readable file must decode to (8-bit RGB), checked at pixel (0, 0)
    "cmyk.jpg": (255, 0, 0),
    "sixteen.png": (128, 128, 128),  # scaled from 16 bits, not clipped to white
    "palette.png": (0, 0, 255),
    "grey.png": (77, 77, 77),
}


def test_awkward_images_are_read_or_skipped_with_a_count(odd_images, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # 80x80 > 2 x 3000: PIL's bomb error
    with pytest.warns(UserWarning, match="skipped 4 unreadable"):
        manifest = R.build_manifest(odd_images, "dogworld", train_per_class=20, test_per_class=0)
    assert sorted(os.path.basename(p) for p in manifest.skipped) == [
        "bomb.png",
        "text.jpg",
        "truncated.jpg",
        "zero.jpg",
    ]
    R.save_manifest(manifest, tmp_path / "m.jsonl")
    ds = R.ManifestDataset(tmp_path / "m.jsonl", "dogworld", transform=lambda im: im)
    seen = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no palette/transparency or decoder warnings either
        for i, row in enumerate(ds.rows):
            img, fine, _ = ds[i]
            assert img.mode == "RGB" and fine == ds.fine_names.index("vizsla")
            seen[os.path.basename(row["path"])] = img
    assert set(seen) == {"ok photo é.jpg", *EXPECTED_PIXEL}
    for name, want in EXPECTED_PIXEL.items():
        got = seen[name].getpixel((0, 0))
        assert max(abs(a - b) for a, b in zip(got, want)) <= 3, (name, got, want)
    assert seen["palette.png"].getpixel((1, 1)) == (255, 255, 255)  # transparent: white


def test_image_broken_after_the_build_is_skipped_and_counted(odd_images, tmp_path):
    with pytest.warns(UserWarning):
        manifest = R.build_manifest(odd_images, "dogworld", train_per_class=20, test_per_class=0)
    ds = R.ManifestDataset(manifest, "dogworld")
    for row in ds.rows[:2]:
        open(row["path"], "wb").close()  # emptied since the build
    with pytest.warns(UserWarning, match="unreadable image"):
        items = [ds[i] for i in range(len(ds))]
    assert len(items) == len(ds) and len(ds.failures) == 2
    assert all(x.shape[0] == 3 for x, _, _ in items)
