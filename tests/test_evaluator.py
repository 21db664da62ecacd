"""kt_lib.eval.evaluator: compare (in domain, OOD, zero-shot), difficulty levels from accuracy, the
Evaluator's forget/retain split, and its predictions keyed by the weights, not by the model object."""

import pandas as pd
import pytest
import torch

from kt_lib.eval.evaluator import EvalSet, Evaluator, compare, difficulty_levels


def test_compare_in_domain_and_ood_and_zero_shot():
    before = dict(
        forget_fine=0.9,
        forget_coarse=0.8,
        retain_fine=0.8,
        retain_coarse=0.9,
        zero_shot=0.99,
        drawing_forget_fine=0.8,
        drawing_forget_coarse=0.8,
        drawing_retain_fine=0.7,
        drawing_retain_coarse=0.8,
    )
    after = dict(
        forget_fine=0.0,
        forget_coarse=0.8,
        retain_fine=0.8,
        retain_coarse=0.9,
        zero_shot=0.5,
        drawing_forget_fine=0.4,
        drawing_forget_coarse=0.8,
        drawing_retain_fine=0.7,
        drawing_retain_coarse=0.8,
    )
    out = compare(before, after)
    assert (
        out["Q"] == pytest.approx(1.0)
        and out["U"] == pytest.approx(1.0)
        and out["QU"] == pytest.approx(1.0)
    )
    assert out["drawing_Q"] == pytest.approx(0.5)
    assert out["zero_shot_utility"] == pytest.approx(0.5 / 0.99)


def test_difficulty_levels_are_computed_from_accuracy():
    df = pd.DataFrame(
        dict(domain="photo", concept=list("abcdefg"), fine=[0.2, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    )
    levels = difficulty_levels(df, min_accuracy=0.3)
    assert levels["easy"] == ["b", "c"] and levels["difficult"] == ["f", "g"]
    assert "a" not in sum(
        levels.values(), []
    )  # concepts the model does not know are not candidates


class FixedModel(torch.nn.Module):
    """A stand-in CLIP whose predictions are decided by the images themselves (one-hot features)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def encode_image(self, x):
        return x.flatten(1)


def test_evaluator_splits_forget_and_retain(monkeypatch):
    import kt_lib.eval.evaluator as E

    fine = torch.tensor([0, 0, 1, 1, 2, 2])
    images = (
        torch.nn.functional.one_hot(torch.tensor([0, 1, 1, 1, 2, 0]), 3).float().view(6, 3, 1, 1)
    )
    monkeypatch.setattr(
        E,
        "text_head",
        lambda model, tok, names, templates=None: (
            torch.eye(len(names), 3).T
            if len(names) == 3
            else torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        ),
    )
    ev = Evaluator(
        ["a", "b", "c"],
        ["x", "y"],
        [0, 0, 1],
        {"photo": EvalSet(images, fine, torch.tensor([0, 0, 0, 0, 1, 1]), ("{}",))},
    )
    acc = ev.accuracies(FixedModel(), None, ["a"])
    assert acc["forget_fine"] == 0.5 and acc["retain_fine"] == 0.75
    assert acc["forget_coarse"] == 1.0
    per_class = ev.per_class(FixedModel(), None)
    assert (
        per_class.set_index("concept").loc["a", "sibling_errors"] == 0.5
    )  # a -> b is a sibling error
    with pytest.raises(KeyError, match="unknown"):
        ev.accuracies(FixedModel(), None, ["zzz"])


class LinearModel(torch.nn.Module):
    """A stand-in CLIP with an image tower (`visual`) and an untouched text-side parameter."""

    def __init__(self):
        super().__init__()
        self.text_projection = torch.nn.Parameter(torch.ones(2))
        self.visual = torch.nn.Linear(3, 3, bias=False)
        with torch.no_grad():
            self.visual.weight.copy_(torch.eye(3))

    def encode_image(self, x):
        return self.visual(x.flatten(1))


def test_predictions_are_keyed_by_weights_not_by_object(monkeypatch):
    """An image-tower-only change in the same object (or a new model that reuses a freed model's id) must
    not be served the old predictions."""
    import kt_lib.eval.evaluator as E

    monkeypatch.setattr(E, "text_head", lambda model, tok, names, templates=None: torch.eye(3))
    images = torch.eye(3).view(3, 3, 1, 1)
    ev = Evaluator(
        ["a", "b", "c"],
        ["x"],
        [0, 0, 0],
        {"photo": EvalSet(images, torch.arange(3), torch.zeros(3), ("{}",))},
    )
    model = LinearModel()
    assert ev.accuracies(model, None, ["a"])["forget_fine"] == 1.0
    with torch.no_grad():  # same object, same text-side tensors, image tower rotated: a wrong for b
        model.visual.weight.copy_(torch.eye(3)[[1, 0, 2]])
    assert ev.accuracies(model, None, ["a"])["forget_fine"] == 0.0
    twin = LinearModel()
    assert E.model_fingerprint(twin) == E.model_fingerprint(LinearModel())  # content, not identity
    assert E.model_fingerprint(twin) != E.model_fingerprint(model)
