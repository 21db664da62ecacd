"""kt_lib.knowledge.realdata on tiny generated folders (no downloads, a few 8x8 images)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from kt_lib.knowledge import datasets as D
from kt_lib.knowledge import realdata as R
from kt_lib.knowledge.taxonomy import Taxonomy

GSP, VIZSLA, POM = "German short-haired pointer", "vizsla", "Pomeranian"


def _img(path, mode="RGB", color=(200, 100, 50), fmt="JPEG"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (8, 8), color if mode == "RGB" else 128).save(path, fmt)


@pytest.fixture(scope="module")
def tax():
    return Taxonomy.load("dogworld")


@pytest.fixture()
def dogs(tmp_path):
    """Stanford-Dogs-like: 3 breeds, a corrupt JPEG, an empty file, a grayscale PNG, an unrelated wnid."""
    img = tmp_path / "sd" / "Images"
    for i in range(3):
        _img(img / "n02100236-German_short-haired_pointer" / f"gsp_{i}.jpg")
        _img(img / "n02112018-Pomeranian" / f"pom_{i}.jpg", color=(230, 150, 60))
    _img(img / "n02100583-vizsla" / "v_0.jpg")
    _img(img / "n02100583-vizsla" / "v_1.jpg")
    _img(img / "n02100583-vizsla" / "v_gray.png", mode="L", fmt="PNG")
    good = (img / "n02100236-German_short-haired_pointer" / "gsp_0.jpg").read_bytes()
    (img / "n02100236-German_short-haired_pointer" / "corrupt.jpg").write_bytes(
        good[: len(good) // 2]
    )
    (img / "n02100236-German_short-haired_pointer" / "empty.jpg").write_bytes(b"")
    _img(img / "n01440764-tench" / "t.jpg")  # another ImageNet class: not in the taxonomy, skipped
    return tmp_path / "sd"


def test_manifest_skips_bad_images_and_is_deterministic(dogs, tax):
    with pytest.warns(UserWarning, match="skipped 2 unreadable"):
        m = R.build_manifest(dogs, tax, train_per_class=2, test_per_class=1, seed=0)
    assert len(m.skipped) == 2 and all("corrupt" in p or "empty" in p for p in m.skipped)
    assert m.stats["classes"] == 3 and len(m.stats["missing_classes"]) == 53
    assert {r["name"] for r in m} == {GSP, VIZSLA, POM} and len(m) == 9
    for r in m:
        assert (
            r["fine"] == tax.fine_names.index(r["name"])
            and r["coarse"] == tax.fine_to_coarse[r["fine"]]
        )
    assert sum(r["split"] == "test" for r in m) == 3
    with pytest.warns(UserWarning):
        assert list(R.build_manifest(dogs, tax, 2, 1, seed=0)) == list(m)


def test_manifest_roundtrip_dataset_and_grayscale(dogs, tax, tmp_path):
    with pytest.warns(UserWarning):
        m = R.build_manifest(dogs, tax, train_per_class=3, test_per_class=0)
    path = R.save_manifest(m, tmp_path / "m.jsonl")
    assert R.load_manifest(path) == list(m)
    ds = R.ManifestDataset(path, tax, split="train")
    assert (
        len(ds) == 9 and ds.fine_names == tax.fine_names and ds.fine_to_coarse == tax.fine_to_coarse
    )
    gray = next(i for i, r in enumerate(ds.rows) if r["path"].endswith(".png"))
    x, fine, coarse = ds[gray]
    assert x.shape == (3, 8, 8) and x.dtype == torch.float32
    assert ds.fine_names[fine] == VIZSLA and ds.coarse_names[coarse] == "pointer"
    with pytest.raises(ValueError, match="do not match taxonomy"):
        R.ManifestDataset(m, "imgnetdogs")


def test_layout_errors(tmp_path, tax):
    with pytest.raises(FileNotFoundError, match="Stanford Dogs"):
        R.build_manifest(tmp_path / "nope", tax)
    _img(tmp_path / "named" / "vizsla" / "a.jpg")
    _img(tmp_path / "named" / "Labradoodle" / "a.jpg")
    with pytest.raises(ValueError, match="Labradoodle"):
        R.build_manifest(tmp_path / "named", tax)
    _img(tmp_path / "inet" / "n01440764" / "a.jpg")
    with pytest.raises(FileNotFoundError, match="none of the 1 folders"):
        R.build_manifest(tmp_path / "inet", tax)


def test_imagenet_layout_and_named_folders(tmp_path, tax):
    _img(tmp_path / "inet" / "n02100583" / "a.JPEG")
    _img(tmp_path / "inet" / "n01440764" / "b.JPEG")
    m = R.build_manifest(
        tmp_path / "inet", "imgnetdogs", train_per_class=1, test_per_class=0, verbose=False
    )
    assert [r["name"] for r in m] == ["vizsla"]
    _img(tmp_path / "named" / "Hungarian pointer" / "a.png", fmt="PNG")
    m = R.build_manifest(
        tmp_path / "named", tax, train_per_class=1, test_per_class=0, verbose=False
    )
    assert [r["name"] for r in m] == ["vizsla"]


def test_cached_tensors_atomic_and_reused(dogs, tax, tmp_path):
    from torchvision import transforms as T

    with pytest.warns(UserWarning):
        ds = R.ManifestDataset(R.build_manifest(dogs, tax, 1, 0), tax, transform=lambda im: im)
    pre = T.Compose([T.Resize(4), T.ToTensor()])
    data = D.cached_tensors(ds, "tiny dogs", pre, cache_dir=tmp_path / "c")
    assert data["images"].shape == (3, 3, 4, 4) and data["labels"].shape == (3, 2)
    files = [f for f in (tmp_path / "c").iterdir() if f.name != ".locks"]  # builders' lock files
    assert len(files) == 1 and files[0].suffix == ".ktc" and files[0].name.startswith("tiny_dogs-")

    class Boom(torch.utils.data.Dataset):  # same name, preprocess and length: served from the cache
        def __len__(self):
            return 3

        def __getitem__(self, i):
            raise AssertionError("a cache hit must not read the dataset")

    again = D.cached_tensors(Boom(), "tiny dogs", pre, cache_dir=tmp_path / "c")
    assert torch.equal(again["images"], data["images"]) and torch.equal(
        again["labels"], data["labels"]
    )
    ds2 = ds
    assert (
        D.cached_tensors(
            ds2, "tiny dogs", T.Compose([T.Resize(2), T.ToTensor()]), cache_dir=tmp_path / "c"
        )["images"].shape[-1]
        == 2
    )


def test_oxford_pet_relabelled_through_taxonomy(tmp_path):
    base = tmp_path / "oxford-iiit-pet"
    _img(base / "images" / "Abyssinian_1.jpg")
    _img(base / "images" / "german_shorthaired_2.jpg")
    (base / "annotations").mkdir()
    (base / "annotations" / "trainval.txt").write_text(
        "Abyssinian_1 1 1 1\ngerman_shorthaired_2 15 2 1\n"
    )
    ds = D.oxford_pet(tmp_path, split="trainval")
    pets = Taxonomy.load("oxford_pet")
    (x0, f0, c0), (_, f1, c1) = ds[0], ds[1]
    assert x0.shape == (3, 8, 8)
    assert ds.fine_names[f0] == "Abyssinian" and ds.coarse_names[c0] == "cat"
    assert ds.fine_names[f1] == "German Shorthaired" and ds.coarse_names[c1] == "pointer"
    assert ds.fine_names == pets.fine_names
    with pytest.raises(FileNotFoundError, match="download=True"):
        D.oxford_pet(tmp_path / "none")


def test_zero_shot_loaders_fail_clearly_without_data(tmp_path):
    with pytest.raises(ValueError, match="Kaggle"):
        D.zero_shot_dataset("stanford_cars", tmp_path, download=True)
    with pytest.raises(FileNotFoundError, match="data/README.md"):
        D.zero_shot_dataset("cifar100", tmp_path, download=False)
    with pytest.raises(ValueError, match="unknown zero-shot dataset"):
        D.zero_shot_dataset("imagenet-z", tmp_path)
    with pytest.raises(ValueError, match="not leaves"):
        D.TaxonomyDataset([], ["Labradoodle"], "dogworld")
    assert R.to_rgb(Image.new("L", (2, 2))).mode == "RGB"
