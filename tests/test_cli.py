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


def test_unlearn_json(tmp_path, world_model):
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
