"""`kt reproduce table2 --world`: the paper's protocol on the embedded world, ours beside the paper's,
resumable; and a coarse request scored at the coarse level through `kt unlearn`."""

from __future__ import annotations

import json

import pytest

from kt_harness.cli import main
from kt_harness.reproduce import paper_tables, protocol
from kt_harness.sweep.spec import content_key
from kt_lib.knowledge.taxonomy import Taxonomy

SMALL = ["--samples-per-class", "5", "--eval-per-class", "5", "--epochs", "2"]


def test_protocol_is_the_papers_and_keys_are_content_keys():
    tables = paper_tables()
    assert (
        tables["table2"]["rows"]["nhl_kl"]["QU"] == 95.20 and "Table 2" in tables["table2"]["note"]
    )
    spec = protocol("table2", Taxonomy.from_world())
    assert spec["goal"] == "fine" and "nhl_kl" in spec["methods"]
    known = spec["levels"]["difficult"]
    assert known and set(known) | set(spec["dropped"]["difficult"]) == set(
        tables["targets"]["difficult"]
    )
    assert (
        content_key(dict(a=1, b=[1, 2]))
        == content_key(dict(b=[1, 2], a=1))
        != content_key(dict(a=2))
    )
    with pytest.raises(ValueError, match="table2, table3, table4"):
        protocol("table9", Taxonomy.from_world())


def test_reproduce_table2_world_writes_ours_beside_the_papers_and_resumes(
    tmp_path, world_model, monkeypatch
):
    out, js = tmp_path / "repro", tmp_path / "t2.json"
    argv = ["reproduce", "table2", "--world", "--methods", "ga", "nhl_kl", *SMALL]
    assert main([*argv, "--out", str(out), "--json", str(js)]) == 0
    rows = {r["method"]: r for r in json.loads(js.read_text())["rows"]}
    assert set(rows) == {"ga", "nhl_kl"}
    for r in rows.values():
        assert all(r[m] is not None and 0 <= r[m] <= 100 for m in ("U", "QU"))
    assert rows["nhl_kl"]["paper_QU"] == 95.20 and rows["ga"]["paper_QU"] == 11.85
    md = (out / "table2.md").read_text()
    assert "| Q-U | paper Q-U |" in md and "95.20" in md
    assert (
        (out / "table2.csv").read_text().startswith("level,method,Q,paper_Q,U,paper_U,QU,paper_QU")
    )
    # a second call finds every run done: nothing is trained again
    import kt_lib.experiment

    def no_run(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(kt_lib.experiment.Experiment, "run", no_run)
    assert main([*argv, "--out", str(out)]) == 0


def test_coarse_goal_takes_q_from_the_coarse_level(tmp_path, world_model):
    out = tmp_path / "coarse.json"
    argv = ["unlearn", "--forget", "terrier", "--goal", "coarse", "--method", "nhl_kl", *SMALL]
    assert main([*argv, "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    b, a = r["before"], r["after"]
    assert r["Q"] == pytest.approx(1 - a["forget_coarse"] / b["forget_coarse"])
    u = [min(1, a[k] / b[k]) for k in ("retain_coarse", "retain_fine")]
    assert r["U"] == pytest.approx(sum(u) / 2) and r["goal"] == "coarse"
