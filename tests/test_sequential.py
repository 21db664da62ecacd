"""Requests one after another (issue 30 item 4, kt_lib.sequential): the matrix's shape, step 1 is the plain
run, each later step starts from the model the one before left (its own reference), earlier requests' Q
reported after later ones, the prefix in every step's key, and `kt unlearn --then`'s bad input."""

import json

import pytest

import kt_lib.experiment
import kt_lib.models
import kt_lib.sequential
from kt_harness.cli import main
from kt_lib.sequential import frame, sequence

EXPERIMENT = dict(forget=["Samoyed"], eval_per_class=2, num_steps=4, samples_per_class=8)
THEN = ["vizsla", "beagle", "Chihuahua"]


def _no_training(monkeypatch):
    """Training from here on fails the test (a TypeError)."""
    monkeypatch.setattr(kt_lib.sequential, "unlearn", None)
    monkeypatch.setattr(kt_lib.experiment, "unlearn", None)


def test_the_matrix_is_lower_triangular_and_step_one_is_the_plain_run(exp):
    seq = sequence(exp, THEN, "projection")
    assert seq["requests"] == [["Samoyed"], *([t] for t in THEN)]
    assert [len(r) for r in seq["matrix"]] == [1, 2, 3, 4]
    assert all(q is not None for r in seq["matrix"] for q in r)
    plain = exp.run("projection")
    first = seq["steps"][0]
    assert first["Q_requests"] == [plain["Q"]] and (first["Q"], first["U"]) == (
        plain["Q"],
        plain["U"],
    )
    assert first["key"] == plain["key"]
    table = frame(seq)
    assert list(table.step) == [1, 2, 3, 4] and table.shape == (4, 2 + 4 + 3)
    q = table[[f"Q {n}" for n in ["Samoyed", *THEN]]].to_numpy()
    assert all(
        q[i, j] != q[i, j] for i in range(4) for j in range(i + 1, 4)
    )  # NaN above the diagonal
    assert len({s["key"] for s in seq["steps"]}) == 4


def test_each_step_starts_from_the_model_before_and_earlier_requests_are_measured_on_it(exp):
    """Step 2 is vizsla unlearned from step 1's model (its KL reference: that model): the matrix's row 2 is
    Samoyed's and vizsla's Q of that model, recomputed here by hand. Started from the original instead,
    Samoyed's Q after step 2 would be the Q of a model that never forgot it."""
    seq = sequence(exp, THEN[:1], "nhl_kl")
    first = exp.run("nhl_kl")
    model1 = exp.result(first).model
    other = kt_lib.sequential._like(exp, ["vizsla"])
    images, fine, coarse = other.forget_set.tensors
    names = (other.data.fine_names, other.data.coarse_names)
    cfg = other.config("nhl_kl")
    model2 = kt_lib.sequential.unlearn(
        model1, exp.tokenizer, images, fine, coarse, *names, cfg
    ).model
    by_hand = [e.evaluate(model2, scope="in_domain")["Q"] for e in (exp, other)]
    assert seq["matrix"][1] == pytest.approx(by_hand)
    fresh = kt_lib.sequential.unlearn(exp.model, exp.tokenizer, images, fine, coarse, *names, cfg)
    assert seq["matrix"][1][0] > exp.evaluate(fresh.model, scope="in_domain")["Q"]


def test_steps_are_cached_under_their_prefix(exp, monkeypatch):
    seq = sequence(exp, THEN[:2], "projection")
    other = sequence(exp, [THEN[1], THEN[0]], "projection")  # the same breeds in another order
    assert seq["steps"][2]["key"] != other["steps"][2]["key"]
    _no_training(monkeypatch)
    again = sequence(exp, THEN[:2], "projection")
    assert again["matrix"] == seq["matrix"] and [s["key"] for s in again["steps"]] == [
        s["key"] for s in seq["steps"]
    ]


def test_a_breed_requested_twice_or_unknown_raises_before_training(exp, monkeypatch):
    _no_training(monkeypatch)
    with pytest.raises(ValueError, match="request 3 names Samoyed, forgotten by request 1"):
        sequence(exp, ["vizsla", "Samoyed"], "nhl_kl")
    with pytest.raises(KeyError, match="did you mean 'vizsla'"):
        sequence(exp, ["vizsl"], "nhl_kl")


def test_kt_unlearn_then_prints_and_writes_the_matrix(tmp_path, capsys):
    path = tmp_path / "seq.json"
    argv = ["unlearn", "--method", "projection", "--forget", "Samoyed", "--eval-per-class", "2"]
    argv += [a for t in THEN for a in ("--then", t)] + ["--json", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "4 requests in turn" in out and "Q Chihuahua" in out and "zero_shot_utility" in out
    data = json.loads(path.read_text())
    assert [len(r) for r in data["matrix"]] == [1, 2, 3, 4]
    assert data["requests"] == [["Samoyed"], *([t] for t in THEN)] and len(data["steps"]) == 4
    assert all({"Q", "U", "zero_shot_utility", "Q_requests"} <= set(s) for s in data["steps"])


def test_kt_unlearn_then_with_an_unknown_breed_names_the_close_one_and_trains_nothing(
    capsys, monkeypatch
):
    _no_training(monkeypatch)
    assert main(["unlearn", "--forget", "Samoyed", "--then", "vizsa", "--eval-per-class", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kt unlearn: error: ") and "did you mean 'vizsla'" in err, err
    assert err.count("\n") == 1


@pytest.mark.unit
@pytest.mark.parametrize(
    "extra, says",
    [
        (["--audit", "quant"], "--audit takes one request's model"),
        (["--save", "x.safetensors"], "--save takes one request's model"),
        (["--attack", "relearn", "--save", "x"], "--attack and --save take one request's model"),
    ],
)
def test_then_with_a_single_request_option_fails_in_one_line_before_the_model_loads(
    extra, says, capsys, monkeypatch
):
    monkeypatch.setattr(kt_lib.models, "load_model", None)  # reached: a TypeError, exit 1
    assert main(["unlearn", "--forget", "Samoyed", "--then", "vizsla", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kt unlearn: error: ") and says in err and "without --then" in err, err
    assert err.count("\n") == 1
