"""The residual-knowledge table (kt_lib.eval.residual) and `kt unlearn --attack relearn`."""

from __future__ import annotations

import json

import pytest
import torch

from kt_harness.cli import main
from kt_lib.eval.recovery import REFERENCE
from kt_lib.eval.residual import residual_knowledge, to_json

torch.set_num_threads(1)


EXPERIMENT = dict(forget=["Samoyed"], eval_per_class=4, samples_per_class=2)


def test_table_has_probes_and_relearning_for_every_model(exp):
    import copy

    projected = exp.result(exp.run("projection")).model
    res = residual_knowledge(
        exp,
        projected,
        reference=copy.deepcopy(exp.model),
        label="projection",
        ks=(1,),
        attacks=("forget",),
        steps=(0, 2),
    )
    table = res["table"]
    assert set(table.model) == {"original", "projection", REFERENCE}
    measures = set(table.measure)
    assert {"zero-shot forget", "linear probe forget", "paraphrase forget (mean)"} <= measures
    assert {"steps_to_half", "residual"} <= measures
    summary = res["summary"].set_index("model")
    # the same weights as the reference give the same curve: residual exactly 0
    assert summary.loc["original", "residual"] == 0
    zs = table[(table.measure == "zero-shot forget")].set_index("model").value
    assert zs["projection"] < zs["original"]
    json.dumps(to_json(res), allow_nan=False)  # NaN / <NA> become null


def test_cli_attack_relearn_writes_curves_and_residuals(tmp_path, world_model):
    from kt_lib.checkpoint import save_checkpoint

    ref = tmp_path / "ref.safetensors"  # stands in for a never-learned model (here: the original)
    save_checkpoint(world_model[0].state_dict(), ref, {}, compact_vocab=True)
    out = tmp_path / "u.json"
    args = ["unlearn", "--method", "projection", "--forget", "Samoyed", "--eval-per-class", "4"]
    args += ["--attack", "relearn", "--attack-k", "1", "--attack-steps", "0", "2"]
    args += ["--reference", str(ref), "--json", str(out)]
    assert main(args) == 0
    rel = json.loads(out.read_text())["relearning"]
    assert {"curves", "summary", "table", "reference"} <= set(rel)
    steps = sorted({r["step"] for r in rel["curves"]})
    assert steps == [0, 2]
    assert {r["attack"] for r in rel["curves"]} == {"forget", "siblings", "unrelated"}
    orig = [r for r in rel["summary"] if r["model"] == "original" and r["attack"] == "forget"]
    assert orig and orig[0]["residual"] == pytest.approx(0.0, abs=1e-6)
