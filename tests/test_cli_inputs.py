"""What a new user meets on the command line (issue 20): a data root of undecodable files says so, skipped
images are counted in the run's JSON, and a misspelt concept gets a suggestion only when one is close."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from kt_harness.cli import main
from kt_lib.knowledge import realdata as R
from kt_lib.knowledge.taxonomy import Taxonomy

KEEP = {"dog", "spitz", "hound", "Samoyed", "beagle"}


@pytest.fixture()
def taxonomy_file(tmp_path):
    """dog -> spitz (Samoyed), hound (beagle): imgnetdogs concepts, so the folder names are real classes."""
    d = Taxonomy.load("imgnetdogs").to_dict()
    d.update(name="twodogs", concepts=[c for c in d["concepts"] if c["name"] in KEEP])
    path = tmp_path / "twodogs.json"
    path.write_text(json.dumps(d))
    return path


def undecodable_root(root):
    """Class folders that hold only files no decoder reads: text named .jpg, an empty file, half a PNG."""
    (root / "Samoyed").mkdir(parents=True)
    (root / "beagle").mkdir()
    (root / "Samoyed" / "a.jpg").write_text("not a jpeg")
    (root / "Samoyed" / "b.jpg").write_bytes(b"")
    png = root / "beagle" / "c.png"
    Image.new("RGB", (16, 16), (200, 10, 10)).save(png)
    png.write_bytes(png.read_bytes()[:20])
    return root


@pytest.mark.unit
def test_a_root_of_undecodable_files_says_how_many_which_and_what_to_do(tmp_path):
    root = undecodable_root(tmp_path / "dogs")
    with pytest.raises(ValueError) as info:
        R.build_manifest(root, "imgnetdogs", train_per_class=2, test_per_class=1, verbose=False)
    msg = str(info.value)
    assert f"none of the 3 image files under {root} could be decoded" in msg, msg
    named = [p for p in ("a.jpg", "b.jpg", "c.png") if p in msg]
    assert len(named) == 1 and "Error" in msg  # one file named, with the decoder's reason
    assert "download or convert them again" in msg and "\n" not in msg


@pytest.mark.unit
def test_cli_on_a_root_of_undecodable_files_fails_in_one_line(tmp_path, world_model, capsys):
    root = undecodable_root(tmp_path / "dogs")
    assert main(["unlearn", "--forget", "Samoyed", "--data-root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kt unlearn: error: none of the 3 image files") and "empty" not in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.filterwarnings(
    "ignore::kt_lib.integrity.RunIntegrityWarning"
)  # one step forgets little
def test_skipped_images_are_counted_in_the_runs_json(
    tmp_path, taxonomy_file, world_model, capsys, monkeypatch
):
    monkeypatch.setenv("KT_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "dogs"
    rng = np.random.default_rng(0)
    for name in ("Samoyed", "beagle"):
        (root / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.jpg")
    (root / "Samoyed" / "broken.jpg").write_text("not a jpeg")
    (root / "beagle" / "empty.jpg").write_bytes(b"")
    out = tmp_path / "run.json"
    argv = ["unlearn", "--forget", "Samoyed", "--data-root", str(root), "--taxonomy"]
    argv += [str(taxonomy_file), "--train-per-class", "3", "--test-per-class", "2"]
    argv += ["--samples-per-class", "2", "--steps", "1", "--json", str(out)]
    assert main(argv) == 0
    data = json.loads(out.read_text())["config"]["data"]
    assert data["skipped_count"] == 2 == len(data["skipped"])
    assert {p.rsplit("/", 1)[1] for p in data["skipped"]} == {"broken.jpg", "empty.jpg"}
    assert "2 of 10 image files read could not be decoded" in capsys.readouterr().out


@pytest.mark.unit
@pytest.mark.parametrize(
    "name, taxonomy, says, never",
    [
        ("Dalmation", "dogworld", "none of its concepts is spelled like it", "German shepherd"),
        ("Dalmation", "imgnetdogs", "it leaves out 'dalmatian'", "German shepherd"),
        ("Samoyd", "dogworld", "did you mean 'Samoyed'?", "Samoyed,"),
        ("Pomeranain", "imgnetdogs", "did you mean 'Pomeranian'?", "Pekinese"),
        ("Alsatain", "dogworld", "'German shepherd dog' (also called 'alsatian')", "Dalmatian"),
        ("Germn shepherd", "dogworld", "did you mean 'German shepherd dog'", "Pomeranian"),
        ("German shorthair pointer", "dogworld", "'German short-haired pointer'", "vizsla"),
    ],
)
def test_taxonomy_show_suggests_only_close_spellings_or_synonyms(
    name, taxonomy, says, never, capsys
):
    assert main(["taxonomy", "show", name, "--taxonomy", taxonomy]) == 2
    err = capsys.readouterr().err
    assert says in err and never not in err and err.count("\n") == 1, err
    if "did you mean" not in err:  # nothing close: point to the root's listing
        assert "browse" in err and f"`kt taxonomy show 'dog' --taxonomy {taxonomy}`" in err, err


@pytest.mark.unit
def test_spelling_distance_counts_edits_and_swaps():
    from kt_lib.knowledge.taxonomy import close_spellings, spelling_distance

    assert spelling_distance("kitten", "sitting") == 3 and spelling_distance("", "dog") == 3
    assert spelling_distance("pomeranain", "pomeranian") == 1  # a swap is one edit
    assert spelling_distance("dalmation", "alsatian") == 3  # the old suggestion: not close
    assert close_spellings("Dalmation", ["alsatian", "dalmatian", "dog"]) == ["dalmatian"]
    words = [
        "golden retriever",
        "german shepherd dog",
        "dog",
    ]  # every word typed is one of the key's
    assert close_spellings("golden", words) == ["golden retriever"]
    assert close_spellings("Germn shepherd", words) == ["german shepherd dog"]


def test_the_cli_layouts_are_realdatas():
    """kt_harness.cli.options spells the layouts out (importing realdata would import torchvision into
    every `kt` command); they must stay the ones build_manifest accepts."""
    from kt_harness.cli.options import LAYOUTS
    from kt_lib.knowledge.realdata import LAYOUTS as REAL

    assert LAYOUTS == REAL


@pytest.mark.unit
@pytest.mark.parametrize(
    "extra, says",
    [
        (
            ["--audit", "mia,relearn"],
            "unknown audit 'relearn'; use any of mia, ks, quant, invert or all",
        ),
        (["--audit", ","], "unknown audit ''; use any of mia, ks, quant, invert or all"),
        (
            ["--audit", "invert", "--audit-k", "0"],
            "--audit-k must be an integer from 1 to 100, got 0",
        ),
        (
            ["--audit", "quant", "--audit-steps", "101"],
            "--audit-steps must be an integer from 1 to 100",
        ),
    ],
)
def test_bad_audit_settings_fail_in_one_line_before_the_model_loads(
    extra, says, capsys, monkeypatch
):
    import kt_lib.models

    monkeypatch.setattr(
        kt_lib.models, "load_model", None
    )  # reached: a TypeError, not the line below
    assert main(["unlearn", "--forget", "Samoyed", *extra]) == 2
    err = capsys.readouterr().err
    assert err == f"kt unlearn: error: {err.split('error: ', 1)[1]}" and says in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_audit_that_needs_the_never_learned_model_says_how_to_build_it_and_trains_nothing(
    world_model, capsys, monkeypatch
):
    import kt_lib.experiment
    from kt_lib.eval import recovery

    monkeypatch.setattr(recovery, "cached_reference", lambda *a: None)
    monkeypatch.setattr(kt_lib.experiment, "unlearn", None)  # training: a TypeError, exit 1
    for audits, rest in (("mia", "quant,invert"), ("all", "quant,invert"), ("ks,quant", "quant")):
        argv = ["unlearn", "--forget", "Samoyed", "--steps", "2", "--audit", audits]
        assert main(argv) == 2
        err = capsys.readouterr().err
        need = ",".join(n for n in ("mia", "ks") if n in audits or audits == "all")
        assert err.startswith(
            f"kt unlearn: error: --audit {need}: no never-learned model for Samoyed"
        )
        assert "`kt world --retrain --without 'Samoyed'`" in err and "about 5 minutes" in err, err
        assert f"(or --audit {rest}, which need none)" in err and err.count("\n") == 1, err
