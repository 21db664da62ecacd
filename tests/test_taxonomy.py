"""kt_lib.knowledge.taxonomy + kt_lib/taxonomies/*.json + the `kt taxonomy` CLI (all fast: no NLTK reader load)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
from noun_index import open_noun_index

from kt_harness.cli import taxonomy as cli_taxonomy
from kt_lib.knowledge.taxonomy import Concept, Taxonomy
from kt_lib.world.config import BREEDS, GROUPS, WorldTaxonomy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from build_taxonomies import build_dogworld  # noqa: E402

pytestmark = pytest.mark.unit

DIFFICULT = [
    "German short-haired pointer",
    "Boston terrier",
    "Boston bull",
    "West Highland white terrier",
    "Labrador retriever",
    "golden retriever",
    "German shepherd dog",
    "German shepherd",
    "keeshond",
    "Samoyed",
    "Pomeranian",
    "Border terrier",
]
OXFORD_CLASSES = [  # torchvision OxfordIIITPet.classes
    "Abyssinian",
    "American Bulldog",
    "American Pit Bull Terrier",
    "Basset Hound",
    "Beagle",
    "Bengal",
    "Birman",
    "Bombay",
    "Boxer",
    "British Shorthair",
    "Chihuahua",
    "Egyptian Mau",
    "English Cocker Spaniel",
    "English Setter",
    "German Shorthaired",
    "Great Pyrenees",
    "Havanese",
    "Japanese Chin",
    "Keeshond",
    "Leonberger",
    "Maine Coon",
    "Miniature Pinscher",
    "Newfoundland",
    "Persian",
    "Pomeranian",
    "Pug",
    "Ragdoll",
    "Russian Blue",
    "Saint Bernard",
    "Samoyed",
    "Scottish Terrier",
    "Shiba Inu",
    "Siamese",
    "Sphynx",
    "Staffordshire Bull Terrier",
    "Wheaten Terrier",
    "Yorkshire Terrier",
]


@pytest.fixture(scope="module")
def tax() -> dict[str, Taxonomy]:
    return {n: Taxonomy.load(n) for n in ("dogworld", "imgnetdogs", "oxford_pet")}


def test_dogworld_matches_the_embedded_world(tax):
    t, world = tax["dogworld"], WorldTaxonomy()
    assert t.root.name == "dog" and [c.name for c in t.children("dog")] == list(GROUPS)
    assert t.fine_names == world.fine and t.coarse_names == world.coarse
    assert t.fine_to_coarse == world.fine_to_coarse
    made = build_dogworld(Taxonomy.load("imgnetdogs")).to_dict()
    assert made == t.to_dict() == Taxonomy.from_world().to_dict(), "rerun tools/build_taxonomies.py"
    assert all(c.wnid and c.synset for c in t.concepts()), (
        "every world node is a WordNet/ImageNet synset"
    )


def test_world_breeds_are_imgnetdogs_breeds_in_the_same_group(tax):
    dogs = tax["imgnetdogs"]
    assert [c.name for c in dogs.children("dog")] == list(GROUPS)
    for breed, spec in BREEDS.items():
        c = dogs.lookup(breed)
        assert c.is_leaf and dogs.parent(breed).name == spec[0]
        assert c.wnid == tax["dogworld"].lookup(breed).wnid


def test_imgnetdogs_and_oxford_sizes(tax):
    dogs, pets = tax["imgnetdogs"], tax["oxford_pet"]
    assert len(dogs.leaves()) + len(dogs.meta["excluded"]) == 118  # ImageNet-1k dog classes
    # data/README.md: 101 breeds under the 14 groups (the paper reports 98), 17 ImageNet dog classes excluded
    assert len(dogs.leaves()) == 101 and len(dogs.meta["excluded"]) == 17
    assert sorted(pets.fine_names) == sorted(OXFORD_CLASSES)
    assert len(pets.leaves("cat")) == 12 and pets.parent("cat").name == "pet"
    assert pets.lookup("German short-haired pointer").name == "German Shorthaired"
    assert pets.parent("German Shorthaired").name == "pointer"


@pytest.mark.parametrize("name", DIFFICULT)
def test_difficult_names_resolve(tax, name):
    assert tax["imgnetdogs"].lookup(name).wnid
    assert tax["dogworld"].lookup(name).is_leaf
    assert tax["imgnetdogs"].lookup(name.upper()).id == tax["imgnetdogs"].lookup(name).id


def _exceptions(t: Taxonomy) -> set[str]:
    return {e["name"] for e in t.meta.get("exceptions", [])}


@pytest.mark.parametrize("name", ["imgnetdogs", "oxford_pet", "dogworld"])
def test_wnids_are_wordnet30_and_groups_are_ancestors(tax, name):
    try:
        ix, t = open_noun_index(), tax[name]
    except RuntimeError:
        pytest.skip("WordNet 3.0 not installed (apt-get install wordnet-base wordnet-sense-index)")
    dog, cat = 2084071, 2121808
    try:
        for c in t.concepts():
            if c.wnid is None:
                assert c.synset is None
                continue
            off = int(c.wnid[1:])
            assert c.wnid[0] == "n" and c.synset.split(".")[0].lower() in [
                x.lower() for x in ix.lemmas(off)
            ]
            if not c.is_leaf:
                continue
            anc = ix.ancestors(off)
            assert dog in anc or (
                name == "oxford_pet" and t.parent(c.name).name == "cat" and cat in anc
            ), c.name
            group = t.parent(c.name)
            if group.wnid and int(group.wnid[1:]) not in anc:
                assert c.name in _exceptions(t), (
                    f"{c.name}: {group.name} is no WordNet ancestor, not recorded"
                )
    finally:
        ix.close()


def test_lookup_path_leaves_siblings(tax):
    t = tax["dogworld"]
    assert [c.name for c in t.path_to_root("vizsla")] == ["vizsla", "pointer", "dog"]
    assert [c.name for c in t.siblings("vizsla")] == ["German short-haired pointer"]
    assert [c.name for c in t.leaves("pointer")] == ["German short-haired pointer", "vizsla"]
    assert t.leaves("vizsla")[0].name == "vizsla" and t.siblings("dog") == []
    assert t.lookup("german_short_haired_pointer").name == "German short-haired pointer"
    assert "POODLE" in t and "no such dog" not in t


def test_unknown_name_suggests_close_matches(tax):
    with pytest.raises(KeyError, match="did you mean 'Samoyed'"):
        tax["dogworld"].lookup("Samoyd")
    with pytest.raises(KeyError, match="did you mean"):
        tax["dogworld"].request(["vizsla", "Pomeranain"])


def test_request_for_a_breed(tax):
    r = tax["dogworld"].request("German short-haired pointer")
    assert r.forget == ["German short-haired pointer"] and r.siblings == ["vizsla"]
    assert r.parents == ["pointer", "dog"] and len(r.unrelated) == 54
    d = json.loads(json.dumps(r.to_dict()))
    assert (
        d["concepts"]["vizsla"]["wnid"] == "n02100583"
        and d["concepts"]["pointer"]["synset"] == "pointer.n.04"
    )


def test_request_for_a_group_and_several_names(tax):
    t = tax["imgnetdogs"]
    r = t.request(["corgi"])
    assert r.forget == ["Pembroke", "Cardigan"] and r.parents == ["dog"]
    assert set(r.siblings) == set(t.fine_names) - set(r.forget) and r.unrelated == []
    r = t.request(["Samoyed", "keeshond", "Samoyede"])  # alias duplicates collapse
    assert r.resolved == ["Samoyed", "keeshond"] and set(r.forget) == {"Samoyed", "keeshond"}
    assert set(r.siblings) == {"Pomeranian", "chow"} and r.parents == ["spitz", "dog"]
    assert not set(r.unrelated) & (set(r.forget) | set(r.siblings))
    with pytest.raises(ValueError, match="empty knowledge request"):
        t.request([])


def test_validation_and_roundtrip(tmp_path):
    nodes = [
        Concept("a", "animal"),
        Concept("d", "dog", ["hound"], "a"),
        Concept("h", "hound", [], "d"),
    ]
    with pytest.raises(ValueError, match="names both"):
        Taxonomy(nodes)
    with pytest.raises(ValueError, match="exactly one root"):
        Taxonomy([Concept("a", "a"), Concept("b", "b")])
    with pytest.raises(ValueError, match="unknown parent"):
        Taxonomy([Concept("a", "a"), Concept("b", "b", [], "zzz")])
    t = Taxonomy(
        [
            Concept("a", "animal"),
            Concept("d", "dog", ["doggo"], "a", synset="dog.n.01", wnid="n02084071"),
        ],
        "tiny",
        {"notes": ["x"]},
    )
    back = Taxonomy.load(t.save(tmp_path / "t.json"))
    assert back.to_dict() == t.to_dict() and back.lookup("Doggo").wnid == "n02084071"
    with pytest.raises(FileNotFoundError, match="dogworld"):
        Taxonomy.load(tmp_path / "missing.json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kt")
    cli_taxonomy.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_request_writes_the_compiled_sets(tmp_path, capsys):
    out = tmp_path / "out.json"
    args = _parser().parse_args(
        ["taxonomy", "request", "German short-haired pointer", "--json", str(out)]
    )
    assert args.func is cli_taxonomy.run_request and args.func(args) == 0
    d = json.loads(out.read_text())
    assert d["forget"] == ["German short-haired pointer"] and d["siblings"] == ["vizsla"]
    assert d["parents"][0] == "pointer"
    assert d["concepts"]["German short-haired pointer"]["wnid"] == "n02100236"
    assert (
        d["concepts"]["vizsla"]["synset"] == "vizsla.n.01"
        and d["concepts"]["pointer"]["wnid"] == "n02099997"
    )
    assert "forget 1" in capsys.readouterr().out


def test_cli_show(capsys):
    args = _parser().parse_args(["taxonomy", "show", "boston bull", "--taxonomy", "imgnetdogs"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert (
        "Boston terrier -> terrier -> dog" in text
        and "Border terrier" in text
        and "n02096585" in text
    )
    args = _parser().parse_args(["taxonomy", "show", "spitz"])
    args.func(args)
    assert "children: keeshond, Samoyed, Pomeranian, chow" in capsys.readouterr().out
    assert cli_taxonomy.main(["show", "Samoyd"]) == 2 and "did you mean" in capsys.readouterr().err
