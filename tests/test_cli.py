import json

import pytest

from kt_harness.cli import main


def test_world_json_has_the_documented_keys(tmp_path, world_model, capsys):
    out = tmp_path / "w.json"
    assert main(["world", "--json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert {
        "fine",
        "coarse",
        "coarse_via_fine",
        "fine_ood",
        "zero_shot",
        "train_seconds",
        "checkpoint",
    } <= set(report)
    assert set(report["zero_shot"]) == {"fruit", "flower", "vehicle"}
    assert "photo test" in capsys.readouterr().out


def test_world_samples_png(tmp_path, world_model):
    out = tmp_path / "s.png"
    assert main(["world", "--samples", str(out), "--quiet"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.unit
def test_the_efficiency_columns_load_no_torch():  # kt unlearn's cached rerun reads them without torch
    import subprocess
    import sys

    code = "import sys, kt_harness.cli.unlearn; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.unit
def test_list_methods(capsys):
    assert main(["unlearn", "--list-methods"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert sorted(names) == sorted(
        [
            "ga",
            "gdiff",
            "ga_kl",
            "npo_kl",
            "nhl",
            "nhl_kl",
            "me_gd",
            "relabel",
            "salun",
            "task_vector",
            "projection",
        ]
    )


def test_unlearn_json(tmp_path, world_model, capsys):
    out = tmp_path / "u.json"
    assert (
        main(
            [
                "unlearn",
                "--method",
                "nhl_kl",
                "--forget",
                "Samoyed",
                "--samples-per-class",
                "10",
                "--epochs",
                "2",
                "--eval-per-class",
                "10",
                "--json",
                str(out),
                "--save",
                str(tmp_path / "u.safetensors"),
            ]
        )
        == 0
    )
    r = json.loads(out.read_text())
    assert {"method", "forget", "Q", "U", "QU", "before", "after", "seconds"} <= set(r)
    for key in (
        "forget_fine",
        "forget_coarse",
        "retain_fine",
        "retain_coarse",
        "zero_shot",
        "drawing_forget_fine",
    ):
        assert key in r["before"] and key in r["after"]
    assert r["forget"] == ["Samoyed"] and 0 <= r["U"] <= 1
    eff = r["efficiency"]  # issue 30 item 6: what the request cost
    assert eff["seconds"] == r["seconds"] > 0 and eff["peak_memory_mb"] > 0
    assert 0 < eff["params_changed"] <= eff["params_total"] and eff["tensors_changed"] > 1
    printed = capsys.readouterr().out  # the same cost, said in one line
    cost = f"{eff['params_changed']:,} of {eff['params_total']:,} parameters changed"
    assert f"{eff['peak_memory_mb']:,.0f} MiB peak ({eff['memory']})" in printed and cost in printed
    from kt_lib.models import load_model

    model, _, _ = load_model("kt-tiny-dogworld", str(tmp_path / "u.safetensors"), device="cpu")
    assert not model.training


@pytest.mark.unit
@pytest.mark.parametrize(
    "argv, message",
    [
        (["unlearn", "--method", "nhl-kl", "--forget", "Samoyed"], "nhl_kl"),
        (["unlearn", "--forget", "Samoyd"], "Samoyed"),
        (["unlearn", "--samples-per-class", "500", "--forget", "Samoyed"], "samples_per_class"),
    ],
)
def test_bad_input_gets_a_clear_error(argv, message, capsys, world_model):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


AUDIT_RUN = ["unlearn", "--forget", "Samoyed", "--steps", "2", "--samples-per-class", "4"]
AUDIT_RUN += ["--eval-per-class", "4"]


def test_unlearn_audit_quant_invert_without_a_never_learned_model(
    tmp_path, world_model, capsys, monkeypatch
):
    """`--audit quant,invert` needs no never-learned model: the JSON gets both audits with the original as
    control and says how to add the never-learned one. A rerun whose memo would answer without the model
    still audits (an --audit run goes the whole way), from the run cache's row."""
    from kt_lib.eval import recovery

    monkeypatch.setattr(
        recovery, "cached_reference", lambda *a: None
    )  # none, even if this machine has one
    plain, audited = tmp_path / "plain.json", tmp_path / "audited.json"
    assert main([*AUDIT_RUN, "--json", str(plain)]) == 0  # records the memo a rerun answers from
    capsys.readouterr()
    argv = [*AUDIT_RUN, "--audit", "quant,invert", "--audit-k", "2", "--audit-steps", "5"]
    assert main([*argv, "--json", str(audited)]) == 0
    out = capsys.readouterr().out
    assert "from the run cache" in out and "audit quant:" in out and "audit invert:" in out
    r, first = json.loads(audited.read_text()), json.loads(plain.read_text())
    assert r["QU"] == first["QU"] and "audit" not in first
    assert set(r["audit"]) == {"quant", "invert", "never_learned"}
    assert "kt world --retrain --without 'Samoyed'" in r["audit"]["never_learned"]
    quant = {(q["model"], q["scheme"]): q for q in r["audit"]["quant"]["rows"]}
    assert set(quant) == {
        (m, s) for m in ("original", "unlearned") for s in ("fp32", "int8", "int4_g64")
    }
    assert quant[("unlearned", "fp32")]["forget_fine"] == r["after"]["forget_fine"]
    assert quant[("original", "fp32")]["forget_fine"] == r["before"]["forget_fine"]
    assert "visual.proj" in r["audit"]["quant"]["modules"]
    inv = r["audit"]["invert"]
    assert (inv["k"], inv["steps"]) == (2, 5)
    assert {(row["model"], row["concept"]) for row in inv["rows"]} == {
        ("original", "Samoyed"),
        ("unlearned", "Samoyed"),
    }
    assert all(0 <= row["by_token"] <= 1 for row in inv["rows"])


@pytest.mark.unit
def test_unlearn_help_documents_every_audit():
    from kt_harness.cli import build_parser
    from kt_lib.eval.audit import AUDITS

    sub = next(a for a in build_parser()._actions if a.choices and "unlearn" in a.choices)
    text = " ".join(sub.choices["unlearn"].format_help().split())  # argparse wraps lines
    assert "--audit NAMES" in text and "--audit-k" in text and "--audit-steps" in text
    assert all(name in text for name in (*AUDITS, "all", "kt world --retrain --without"))
