"""Regenerate kt_lib/taxonomies/{imgnetdogs,oxford_pet,dogworld}.json from WordNet 3.0.

Usage: python tools/build_taxonomies.py [--out kt_lib/taxonomies]
Needs WordNet 3.0 (kt_lib.knowledge.wordnet.ensure_wordnet) and open_clip (ImageNet class names used by CLIP prompts).
Deterministic: the same WordNet gives byte-identical files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kt_lib.knowledge.taxonomy import Concept, Taxonomy, normalize, slug
from kt_lib.knowledge.wordnet import ensure_wordnet, is_hyponym_of, synset_to_wnid, wnid_to_synset

# ImageNet-1k classes 151..268 (sorted-wnid order): the 118 dog breeds, all hyponyms of dog.n.01.
IMAGENET_DOG_WNIDS = """
n02085620 n02085782 n02085936 n02086079 n02086240 n02086646 n02086910 n02087046 n02087394 n02088094
n02088238 n02088364 n02088466 n02088632 n02089078 n02089867 n02089973 n02090379 n02090622 n02090721
n02091032 n02091134 n02091244 n02091467 n02091635 n02091831 n02092002 n02092339 n02093256 n02093428
n02093647 n02093754 n02093859 n02093991 n02094114 n02094258 n02094433 n02095314 n02095570 n02095889
n02096051 n02096177 n02096294 n02096437 n02096585 n02097047 n02097130 n02097209 n02097298 n02097474
n02097658 n02098105 n02098286 n02098413 n02099267 n02099429 n02099601 n02099712 n02099849 n02100236
n02100583 n02100735 n02100877 n02101006 n02101388 n02101556 n02102040 n02102177 n02102318 n02102480
n02102973 n02104029 n02104365 n02105056 n02105162 n02105251 n02105412 n02105505 n02105641 n02105855
n02106030 n02106166 n02106382 n02106550 n02106662 n02107142 n02107312 n02107574 n02107683 n02107908
n02108000 n02108089 n02108422 n02108551 n02108915 n02109047 n02109525 n02109961 n02110063 n02110185
n02110341 n02110627 n02110806 n02110958 n02111129 n02111277 n02111500 n02111889 n02112018 n02112137
n02112350 n02112706 n02113023 n02113186 n02113624 n02113712 n02113799 n02113978""".split()
FIRST_DOG_CLASS = 151

# The paper's 14 ImgnetDogs groups (Tan & Gong 2025) and their WordNet 3.0 synsets.
GROUP_SYNSETS = {
    "spaniel": "spaniel.n.01",
    "pointer": "pointer.n.04",
    "setter": "setter.n.02",
    "hound": "hound.n.01",
    "terrier": "terrier.n.01",
    "poodle dog": "poodle.n.01",
    "spitz": "spitz.n.01",
    "shepherd dog": "shepherd_dog.n.01",
    "toy dog": "toy_dog.n.01",
    "pinscher": "pinscher.n.01",
    "sled dog": "sled_dog.n.01",
    "corgi": "corgi.n.01",
    "sennenhunde": "sennenhunde.n.01",
    "retriever": "retriever.n.01",
}
TOO_GENERIC = {"toy"}  # lemmas not used as aliases

# Oxford-IIIT Pet (torchvision class name) -> (WordNet 3.0 synset or None, group if not found in WordNet).
OXFORD = {
    "American Bulldog": (None, "other dog"),
    "American Pit Bull Terrier": ("american_staffordshire_terrier.n.01", None),
    "Basset Hound": ("basset.n.01", None),
    "Beagle": ("beagle.n.01", None),
    "Boxer": ("boxer.n.04", None),
    "Chihuahua": ("chihuahua.n.03", None),
    "English Cocker Spaniel": ("cocker_spaniel.n.01", None),
    "English Setter": ("english_setter.n.01", None),
    "German Shorthaired": ("german_short-haired_pointer.n.01", None),
    "Great Pyrenees": ("great_pyrenees.n.01", None),
    "Havanese": (None, "toy dog"),
    "Japanese Chin": ("japanese_spaniel.n.01", None),
    "Keeshond": ("keeshond.n.01", None),
    "Leonberger": ("leonberg.n.01", None),
    "Miniature Pinscher": ("miniature_pinscher.n.01", None),
    "Newfoundland": ("newfoundland.n.01", None),
    "Pomeranian": ("pomeranian.n.01", None),
    "Pug": ("pug.n.01", None),
    "Saint Bernard": ("saint_bernard.n.01", None),
    "Samoyed": ("samoyed.n.03", None),
    "Scottish Terrier": ("scotch_terrier.n.01", None),
    "Shiba Inu": (None, "spitz"),
    "Staffordshire Bull Terrier": ("staffordshire_bullterrier.n.01", None),
    "Wheaten Terrier": ("soft-coated_wheaten_terrier.n.01", None),
    "Yorkshire Terrier": ("yorkshire_terrier.n.01", None),
    "Abyssinian": ("abyssinian.n.01", "cat"),
    "Bengal": (None, "cat"),
    "Birman": (None, "cat"),
    "Bombay": (None, "cat"),
    "British Shorthair": (None, "cat"),
    "Egyptian Mau": ("egyptian_cat.n.01", "cat"),
    "Maine Coon": (None, "cat"),
    "Persian": ("persian_cat.n.01", "cat"),
    "Ragdoll": (None, "cat"),
    "Russian Blue": (None, "cat"),
    "Siamese": ("siamese_cat.n.01", "cat"),
    "Sphynx": (None, "cat"),
}


def lemmas(syn) -> list[str]:
    return [
        lem.name().replace("_", " ")
        for lem in syn.lemmas()
        if lem.name().lower() not in TOO_GENERIC
    ]


def uniq(names: list[str], drop: str) -> list[str]:
    seen, out = {normalize(drop)}, []
    for n in names:
        if normalize(n) not in seen:
            seen.add(normalize(n))
            out.append(n)
    return out


def concept(name: str, parent: str | None, syn=None, extra: list[str] = ()) -> Concept:
    aliases = uniq((lemmas(syn) if syn is not None else []) + list(extra), name)
    return Concept(
        slug(name),
        name,
        aliases,
        parent and slug(parent),
        [],
        syn.name() if syn is not None else None,
        synset_to_wnid(syn) if syn is not None else None,
    )


def build_imgnetdogs(wn) -> Taxonomy:
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    from kt_lib.world.config import BREEDS

    world_by_key = {normalize(b): b for b in BREEDS}
    groups = {g: wn.synset(s) for g, s in GROUP_SYNSETS.items()}
    dog = wn.synset("dog.n.01")
    members: dict[str, list[Concept]] = {g: [] for g in groups}
    exceptions, excluded, clip_names = [], [], {}
    for i, wnid in enumerate(IMAGENET_DOG_WNIDS):
        syn, clip = wnid_to_synset(wnid, wn), IMAGENET_CLASSNAMES[FIRST_DOG_CLASS + i]
        assert is_hyponym_of(syn, dog), wnid
        world = next(
            (world_by_key[normalize(x)] for x in lemmas(syn) if normalize(x) in world_by_key), None
        )
        name = world or lemmas(syn)[0]
        found = [g for g, gs in groups.items() if is_hyponym_of(syn, gs)]
        group = world and BREEDS[world][0] if world else (found[0] if len(found) == 1 else None)
        if group is None:
            excluded.append(
                dict(
                    name=name,
                    wnid=wnid,
                    synset=syn.name(),
                    reason="no WordNet ancestor among the 14 groups",
                )
            )
            continue
        if group not in found:
            exceptions.append(
                dict(
                    name=name,
                    wnid=wnid,
                    synset=syn.name(),
                    group=group,
                    wordnet_parents=[h.name() for h in syn.hypernyms()],
                    reason=f"{GROUP_SYNSETS[group]} is not a WordNet ancestor; grouped as in "
                    "kt_lib.world.config (an Eskimo dog/husky is a sled dog)",
                )
            )
        members[group].append(concept(name, group, syn, [clip]))
        clip_names[name] = clip
    nodes = [concept("dog", None, dog, ["Canis familiaris"])]
    nodes += [concept(g, "dog", groups[g]) for g in groups] + [
        c for g in groups for c in members[g]
    ]
    n = sum(map(len, members.values()))
    meta = dict(
        description=f"ImgnetDogs (Tan & Gong 2025): {n} of ImageNet-1k's 118 dog breeds in the paper's 14 "
        "WordNet groups. Names follow kt_lib.world.config where the breed is in the world, else the first "
        "WordNet lemma (ImageNet's original class name); CLIP prompt names are in clip_names.",
        wordnet_version="3.0",
        root="dog",
        notes=[
            f"The paper reports 98 breeds; WordNet 3.0 places {n} ImageNet breeds under the 14 groups "
            "(toy spaniels count as toy dogs), so this file may hold a few more than the paper used.",
            "Every wnid is an ImageNet-1k class and a WordNet 3.0 offset (never 3.1).",
        ],
        exceptions=exceptions,
        excluded=excluded,
        clip_names=clip_names,
    )
    return Taxonomy(nodes, "imgnetdogs", meta)


def build_oxford_pet(wn, dogs: Taxonomy) -> Taxonomy:
    by_synset = {c.synset: c for c in dogs.concepts() if c.synset}
    cat, groups = (
        wn.synset("domestic_cat.n.01"),
        {g: wn.synset(s) for g, s in GROUP_SYNSETS.items()},
    )
    leaves: dict[str, list[Concept]] = {}
    exceptions = []
    for name, (syn_name, fallback) in OXFORD.items():
        syn = wn.synset(syn_name) if syn_name else None
        ref = by_synset.get(syn_name)
        found = [g for g, gs in groups.items() if syn is not None and is_hyponym_of(syn, gs)]
        group = (
            ref and dogs.parent(ref.name).name or (found[0] if found else fallback or "other dog")
        )
        extra = [ref.name, *ref.aliases] if ref else []
        leaves.setdefault(group, []).append(concept(name, group, syn, extra))
        if syn is None:
            exceptions.append(
                dict(
                    name=name,
                    group=group,
                    synset=None,
                    reason=f"not in WordNet 3.0; grouped by breed standard as {group!r}",
                )
            )
        elif group == "cat" and not is_hyponym_of(syn, cat):
            exceptions.append(
                dict(
                    name=name, group=group, synset=syn_name, reason="synset not under domestic cat"
                )
            )
        elif syn_name == "egyptian_cat.n.01":
            exceptions.append(
                dict(
                    name=name,
                    group=group,
                    synset=syn_name,
                    reason="WordNet has no 'Egyptian Mau'; its nearest synset is egyptian_cat.n.01",
                )
            )
    order = [g for g in groups if g in leaves] + ["other dog"]
    nodes = [Concept("pet", "pet", ["pet animal"], None)]
    nodes += [concept("dog", "pet", wn.synset("dog.n.01"), ["Canis familiaris"])]
    nodes += [concept(g, "dog", groups.get(g)) for g in order]
    nodes += [concept("cat", "pet", cat, ["cat"])]
    nodes += [c for g in order + ["cat"] for c in leaves[g]]
    meta = dict(
        description="Oxford-IIIT Pet's 37 breeds (names as torchvision's OxfordIIITPet.classes) mapped onto the "
        "ImgnetDogs groups; dogs of no group under 'other dog'; cats as their own group.",
        wordnet_version="3.0",
        root="pet",
        notes=[
            "The root 'pet' has no synset: pet.n.01 is not a WordNet ancestor of dog.n.01 or domestic_cat.n.01.",
            "'other dog' has no synset and its members are not a natural sibling set: "
            "prefer breeds from the 14 groups for sibling-retain experiments.",
        ],
        exceptions=exceptions,
    )
    return Taxonomy(nodes, "oxford_pet", meta)


def build_dogworld(ref: Taxonomy) -> Taxonomy:
    """The embedded world (root ``dog`` -> 14 groups -> 56 breeds), ids, synsets and wnids from `ref`
    (imgnetdogs)."""
    from kt_lib.world.config import BREEDS, GROUPS

    def make(name: str, parent: str | None) -> Concept:
        c = Concept(slug(name), name, [], parent)
        if name in ref:
            r = ref.lookup(name)
            c.aliases = [a for a in [r.name, *r.aliases] if normalize(a) != normalize(name)]
            c.synset, c.wnid = r.synset, r.wnid
        return c

    nodes = [make("dog", None)] + [make(g, "dog") for g in GROUPS]
    nodes += [make(b, slug(spec[0])) for b, spec in BREEDS.items()]
    meta = {
        "description": "The embedded dog world of kt_lib.world (generated by Taxonomy.from_world).",
        "wordnet_version": "3.0",
        "root": "dog",
        "exceptions": [e for e in ref.meta.get("exceptions", []) if e["name"] in BREEDS],
    }
    return Taxonomy(nodes, "dogworld", meta)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent.parent / "kt_lib" / "taxonomies")
    )
    args = ap.parse_args(argv)
    wn = ensure_wordnet()
    out = Path(args.out)
    dogs = build_imgnetdogs(wn)
    dogs.save(out / "imgnetdogs.json")
    build_oxford_pet(wn, dogs).save(out / "oxford_pet.json")
    build_dogworld(dogs).save(out / "dogworld.json")
    print(
        f"wrote {out}/{{imgnetdogs,oxford_pet,dogworld}}.json ({len(dogs.leaves())} ImgnetDogs breeds)"
    )


if __name__ == "__main__":
    main()
