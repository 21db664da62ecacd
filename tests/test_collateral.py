"""The collateral-damage profile: distances on the world and on real taxonomies, the tidy frame, its JSON and
aggregation over seeds, the figure, and the profile of a real run (`kt unlearn --json`)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from kt_lib.eval import collateral
from kt_lib.knowledge.taxonomy import Taxonomy


def test_world_distances_follow_the_tree():
    tax = Taxonomy.from_world()
    d = collateral.distances(tax, ["German short-haired pointer"])
    assert d["German short-haired pointer"] == 0 and d["vizsla"] == 1
    assert {v for k, v in d.items() if k not in ("German short-haired pointer", "vizsla")} == {2}
    assert len(d) == 56
    # forgetting a whole group: its breeds are at 0, and no breed is a sibling (the group has no leaf siblings)
    group = collateral.distances(tax, ["terrier"])
    assert sorted(k for k, v in group.items() if v == 0) == sorted(tax.request("terrier").forget)
    assert set(group.values()) == {0, 2}


def test_real_taxonomy_of_uneven_depth():
    tax = Taxonomy.load("oxford_pet")
    leaves = tax.leaves()
    deep = max(leaves, key=lambda c: len(tax.path_to_root(c.id)))
    d = collateral.distances(tax, [deep.name])
    up = [a.id for a in tax.path_to_root(deep.id)]
    for leaf in leaves:
        # the distance: steps up from the forgotten leaf to the first ancestor the two share
        mine = {a.id for a in tax.path_to_root(leaf.id)}
        assert d[leaf.name] == next(i for i, a in enumerate(up) if a in mine)
    cats = [c.name for c in tax.leaves("cat")]
    assert d[deep.name] == 0 and {d[c] for c in cats} == {
        len(up) - 1
    }  # the root is the only shared node
    from_cat = collateral.distances(tax, ["Bengal"])
    assert {from_cat[c] for c in cats if c != "Bengal"} == {1} and from_cat["Beagle"] == 2
    # a leaf right under the grandparent is not a sibling of the forgotten leaf
    uneven = Taxonomy.from_dict(
        dict(
            concepts=[
                dict(name="dog"),
                dict(name="pointer", parent="dog"),
                dict(name="vizsla", parent="pointer"),
                dict(name="setter", parent="pointer"),
                dict(name="mutt", parent="dog"),
            ]
        )
    )
    assert collateral.distances(uneven, ["vizsla"]) == dict(vizsla=0, setter=1, mutt=2)
    assert collateral.relation(3) == "second cousins" and collateral.relation(5) == "distance 5"
    with pytest.raises(KeyError, match="did you mean"):
        collateral.distances(tax, ["Samoyd"])


def _per_class(tax, fine, coarse, domains=("photo", "drawing")):
    rows = []
    for dom in domains:
        for leaf in tax.leaves():
            group = tax.parent(leaf.id).name
            rows.append(
                dict(
                    domain=dom,
                    concept=leaf.name,
                    group=group,
                    fine=fine(leaf.name),
                    coarse=coarse,
                    n=10,
                )
            )
    return pd.DataFrame(rows)


def test_changes_summary_and_json_on_the_world():
    tax = Taxonomy.from_world()
    forget = ["Samoyed"]
    dist = collateral.distances(tax, forget)
    before = _per_class(tax, lambda c: 0.9, 0.9)
    after = _per_class(tax, lambda c: 0.9 - 0.3 / (1 + dist[c]), 0.8)  # damage falls with distance
    fam = pd.DataFrame(
        dict(concept=["apple", "rose"], group=["fruit", "flower"], fine=[1.0, 0.8], n=[50, 50])
    )
    fam_after = fam.assign(fine=[0.9, 0.8])
    c = collateral.changes(before, after, tax, forget, fam, fam_after)
    assert len(c) == 2 * 56 + 2
    zs = c[c.relation == collateral.ZERO_SHOT]
    assert set(zs.distance) == {3} and zs.coarse_change.isna().all()
    assert zs.set_index("concept").fine_change.to_dict() == pytest.approx(
        {"apple": -0.1, "rose": 0.0}
    )
    s = collateral.summary(c)
    photo = s[s.domain == "photo"].set_index("distance")
    assert photo.n_concepts.to_dict() == {0: 1, 1: 3, 2: 52, 3: 2}
    assert photo.loc[0, "concepts"] == ["Samoyed"]
    assert list(photo.fine_change) == sorted(photo.fine_change)  # closer = more damage
    assert photo.loc[1, "coarse_change"] == pytest.approx(-0.1)
    records = collateral.to_json(c)
    json.dumps(records)  # JSON-able
    assert {
        "domain",
        "distance",
        "relation",
        "n_concepts",
        "concepts",
        "fine_change",
        "coarse_change",
    } <= set(records[0])
    assert any(
        r["coarse_change"] is None for r in records
    )  # zero-shot families have no coarse level


def test_changes_on_a_real_taxonomy_without_families():
    tax = Taxonomy.load("imgnetdogs")
    forget = tax.request(["vizsla"]).forget
    before = _per_class(tax, lambda c: 0.8, 0.9, domains=("photo",))
    after = _per_class(tax, lambda c: 0.0 if c in forget else 0.7, 0.9, domains=("photo",))
    c = collateral.changes(before, after, tax, forget)
    assert set(c.relation) == {"forgotten", "siblings", "cousins"}
    s = collateral.summary(c).set_index("distance")
    assert s.loc[0, "fine_change"] == pytest.approx(-0.8) and s.loc[
        2, "fine_change"
    ] == pytest.approx(-0.1)
    bad = before.assign(concept=["not a breed"] + list(before.concept[1:]))
    with pytest.raises(KeyError, match="not leaves of taxonomy"):
        collateral.changes(bad, after, tax, forget)


def test_aggregate_gives_seed_intervals():
    tax = Taxonomy.from_world()
    before = _per_class(tax, lambda c: 0.9, 0.9)
    frames = []
    for seed, drop in ((0, 0.2), (1, 0.4), (2, 0.3)):
        after = _per_class(tax, lambda c, d=drop: 0.9 - d, 0.9)
        frames.append(
            collateral.changes(before, after, tax, ["vizsla"]).assign(label="m", seed=seed)
        )
    agg = collateral.aggregate(pd.concat(frames))
    row = agg[(agg.domain == "photo") & (agg.distance == 1)].iloc[0]
    assert row.fine_change == pytest.approx(-0.3) and row.n == 3
    assert row.fine_change_ci == pytest.approx(4.3027 * 0.1 / math.sqrt(3), rel=1e-3)
    one = collateral.aggregate(frames[0])
    assert one.fine_change_ci.isna().all() and set(one.n) == {
        1
    }  # one seed: no interval, not a fake one


def test_plot_profile_draws_one_line_per_method():
    from kt_lib.notebook.plots import plot_profile

    tax = Taxonomy.from_world()
    before = _per_class(tax, lambda c: 0.9, 0.9)
    frames = [
        collateral.changes(
            before, _per_class(tax, lambda c, d=d: 0.9 - d, 0.9), tax, ["vizsla"]
        ).assign(label=lab, seed=0)
        for lab, d in (("ga", 0.6), ("nhl_kl", 0.1))
    ]
    fig = plot_profile(collateral.aggregate(pd.concat(frames)))
    axes = fig.axes
    assert len(axes) == 4  # fine / coarse x photo / drawing
    assert len(axes[0].get_lines()) >= 2 and axes[0].get_title().startswith("photo")
    with pytest.raises(KeyError, match="collateral.aggregate"):
        plot_profile(pd.DataFrame(dict(label=["x"])))


def test_unlearn_json_has_profile_and_flags(tmp_path, world_model):
    """`kt unlearn --json` on the default request: GA carries the collapse flag, NHL+KL none, and both
    write the profile per distance. The settings are the CLI's defaults, on 10 test images per breed."""
    from kt_harness.cli import main
    from kt_lib.experiment import DEFAULT_FORGET

    reports = {}
    for method in ("ga", "nhl_kl"):
        out = tmp_path / f"{method}.json"
        argv = ["unlearn", "--method", method, "--eval-per-class", "10", "--json", str(out)]
        for name in DEFAULT_FORGET:
            argv += ["--forget", name]
        with pytest.warns(UserWarning) if method == "ga" else _no_integrity_warning():
            assert main(argv) == 0
        reports[method] = json.loads(out.read_text())
    ga, kl = reports["ga"], reports["nhl_kl"]
    assert [f.split(":")[0] for f in ga["flags"]] == ["utility_collapse"], ga["flags"]
    assert kl["flags"] == [], kl["flags"]
    for r in (ga, kl):
        photo = {p["distance"]: p for p in r["profile"] if p["domain"] == "photo"}
        assert sorted(photo) == [0, 1, 2, 3] and photo[0]["n_concepts"] == 4
        assert sorted(photo[0]["concepts"]) == sorted(DEFAULT_FORGET)
    ga_p = {p["distance"]: p["fine_change"] for p in ga["profile"] if p["domain"] == "photo"}
    kl_p = {p["distance"]: p["fine_change"] for p in kl["profile"] if p["domain"] == "photo"}
    assert all(ga_p[d] < kl_p[d] for d in (1, 2, 3)), (ga_p, kl_p)  # GA damages every distance more


class _no_integrity_warning:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings(record=True)
        self.seen = self._ctx.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        from kt_lib.integrity import RunIntegrityWarning

        self._ctx.__exit__(*exc)
        flagged = [w for w in self.seen if issubclass(w.category, RunIntegrityWarning)]
        assert not flagged, [str(w.message) for w in flagged]
        return False


def test_profile_of_the_original_model_is_flat(world_model):
    from kt_lib.experiment import Experiment

    model, tokenizer, _ = world_model
    exp = Experiment(["Samoyed"], model, tokenizer, eval_per_class=2)
    c = collateral.profile(exp, exp.model)
    assert np.allclose(c.fine_change, 0) and set(c.distance) == {0, 1, 2, 3}
