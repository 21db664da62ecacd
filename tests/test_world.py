import hashlib

import numpy as np
import pytest

from kt_lib.world.config import BREEDS, FAMILIES, GROUPS, WorldConfig, WorldTaxonomy, family_classes
from kt_lib.world.data import FamilyDataset, WorldDataset, load_pool, render_pool

DIFFICULT = [
    "German short-haired pointer",
    "Boston terrier",
    "West Highland white terrier",
    "Labrador retriever",
    "golden retriever",
    "German shepherd dog",
    "keeshond",
    "Samoyed",
    "Pomeranian",
    "Border terrier",
]


def test_taxonomy_shape():
    tax = WorldTaxonomy()
    assert tax.coarse == [
        "spaniel",
        "pointer",
        "setter",
        "hound",
        "terrier",
        "poodle dog",
        "spitz",
        "shepherd dog",
        "toy dog",
        "pinscher",
        "sled dog",
        "corgi",
        "sennenhunde",
        "retriever",
    ]
    assert len(tax.fine) == 56  # the README's 56 ImageNet breed names in 14 groups
    assert all(len(tax.children(g)) >= 2 for g in tax.coarse)
    assert set(DIFFICULT) <= set(tax.fine)
    assert tax.parent("vizsla") == "pointer" and tax.children("pointer") == [
        "German short-haired pointer",
        "vizsla",
    ]
    assert len(FAMILIES) >= 3 and all(len(c) >= 5 for c in FAMILIES.values())


def test_unknown_names_suggest_close_matches():
    tax = WorldTaxonomy()
    with pytest.raises(KeyError, match="Samoyed"):
        tax.fine_index("Samoyd")
    with pytest.raises(KeyError, match="terrier"):
        tax.children("terier")
    with pytest.raises(KeyError, match="fruit"):
        family_classes("fruits")


def test_breeds_of_a_group_share_a_silhouette_and_differ_in_coat():
    for group in GROUPS:
        coats = {(spec[1], spec[2], spec[3]) for b, spec in BREEDS.items() if spec[0] == group}
        assert len(coats) == sum(spec[0] == group for spec in BREEDS.values()), group


def test_same_seed_same_pixels_other_seed_other_pixels(small_world):
    a, b = render_pool(small_world, "test"), render_pool(small_world, "test")
    assert np.array_equal(a["images"], b["images"])
    other = render_pool(WorldConfig(**{**small_world.__dict__, "seed": 4}), "test")
    assert not np.array_equal(a["images"], other["images"])


def test_class_counts_and_disjoint_pools(small_world):
    pools = {p: render_pool(small_world, p) for p in ("pretrain", "proxy", "test")}
    n_breeds = len(BREEDS)
    test = pools["test"]
    assert (test["fine"] >= 0).sum() == n_breeds * 2 * small_world.test_per_class
    assert (
        np.bincount(test["fine"][test["fine"] >= 0]).tolist()
        == [2 * small_world.test_per_class] * n_breeds
    )
    assert (pools["proxy"]["family"] >= 0).sum() == 0
    hashes = {
        p: {hashlib.sha1(img.tobytes()).hexdigest() for img in arr["images"]}
        for p, arr in pools.items()
    }
    assert not hashes["pretrain"] & hashes["proxy"]
    assert not hashes["pretrain"] & hashes["test"]
    assert not hashes["proxy"] & hashes["test"]


def test_datasets_yield_image_fine_coarse(small_world):
    ds = WorldDataset("proxy", "photo", small_world, breeds=["Samoyed", "vizsla"], per_class=2)
    assert len(ds) == 4
    img, fine, coarse = ds[0]
    tax = WorldTaxonomy()
    assert tuple(img.shape) == (3, 32, 32)
    assert tax.fine[fine] in ("Samoyed", "vizsla") and tax.coarse[coarse] == tax.parent(
        tax.fine[fine]
    )
    fam = FamilyDataset("fruit", "test", small_world)
    assert len(fam) == len(FAMILIES["fruit"]) * small_world.family_test_per_class
    with pytest.raises(ValueError, match="pool"):
        FamilyDataset("fruit", "proxy", small_world)


def test_pool_cache_roundtrip_and_corrupt_cache(small_world, tmp_path, monkeypatch):
    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    first = load_pool(small_world, "test")
    path = next(tmp_path.glob("world-*-test.ktc"))
    path.write_bytes(b"not a zip")
    again = load_pool(small_world, "test")  # a damaged cache is re-rendered
    assert np.array_equal(first["images"], again["images"])


@pytest.mark.parametrize(
    "bad", [dict(image_size=0), dict(render_size=16), dict(drawing_fraction=2.0), dict(noise=-1)]
)
def test_bad_world_config(bad):
    with pytest.raises(ValueError, match="WorldConfig"):
        WorldConfig(**bad)


def test_bad_pool_and_domain(small_world):
    with pytest.raises(ValueError, match="pool"):
        load_pool(small_world, "train")
    with pytest.raises(ValueError, match="domain"):
        WorldDataset("test", "painting", small_world)
