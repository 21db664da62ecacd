"""The relearning attack (kt_lib.eval.recovery): attack sets from the proxy pool, curves, one number per curve."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from torch.utils.data import TensorDataset

from kt_lib.eval import recovery as R

torch.set_num_threads(1)


EXPERIMENT = dict(forget=["Samoyed"], eval_per_class=8, samples_per_class=2)


def test_attack_sets_come_from_the_proxy_pool(exp):
    pool, fine, _ = exp.data.proxy_pool.tensors
    f2c = exp.evaluator.fine_to_coarse.tolist()
    data = R.attack_set(exp, "forget", 5)
    assert data.fine == ["Samoyed"] * 5 and len(data.images) == 5
    last = torch.nonzero(fine == exp.forget_ids[0]).flatten()[-5:]
    assert torch.equal(data.images, pool[last])  # the pool's last images, never test images
    sib = R.attack_set(exp, "siblings", 2)
    group = f2c[exp.forget_ids[0]]
    ids = [exp.data.fine_names.index(n) for n in set(sib.fine)]
    assert "Samoyed" not in sib.fine and ids and all(f2c[i] == group for i in ids)
    assert len(sib.fine) == 2 * len(ids)
    unrelated = R.attack_set(exp, "unrelated", 1)
    assert not set(unrelated.fine) & set(exp.data.fine_names)  # a zero-shot family, not dogs


def test_bad_attack_input_fails_clearly(exp):
    n = int((exp.data.proxy_pool.tensors[1] == exp.forget_ids[0]).sum())
    with pytest.raises(ValueError, match=f"holds only {n}"):
        R.attack_set(exp, "forget", n + 1)
    with pytest.raises(ValueError, match="positive"):
        R.attack_set(exp, "forget", 0)
    with pytest.raises(ValueError, match="unknown attack"):
        R.attack_set(exp, "sibling", 1)
    images, fine, coarse = exp.data.proxy_pool.tensors
    keep = fine != exp.forget_ids[0]
    empty = SimpleNamespace(
        data=SimpleNamespace(
            proxy_pool=TensorDataset(images[keep], fine[keep], coarse[keep]),
            fine_names=exp.data.fine_names,
            coarse_names=exp.data.coarse_names,
            name="dogworld",
        ),
        evaluator=exp.evaluator,
        forget=exp.forget,
        forget_ids=exp.forget_ids,
    )
    with pytest.raises(ValueError, match="no images of 'Samoyed'"):
        R.attack_set(empty, "forget", 1)


def test_relearning_brings_a_projected_concept_back(exp):
    """After the training-free projection the breed is gone from zero-shot; a few steps on five of its
    images bring it back (the projection erased a direction, not the image tower's knowledge)."""
    unlearned = exp.result(exp.run("projection")).model
    curve = R.relearn(exp, unlearned, R.attack_set(exp, "forget", 5), steps=(0, 8))
    assert list(curve.step) == [0, 8]
    start, end = curve.forget_fine.tolist()
    assert start <= 0.25 and end > start + 0.25, (start, end)
    assert curve.U.between(0, 1).all()
    # the caller's model is untouched
    again = R.relearn(exp, unlearned, R.attack_set(exp, "forget", 5), steps=(0,))
    assert again.forget_fine.iloc[0] == start


def test_utility_is_read_at_the_ends_and_the_forgotten_accuracy_at_every_step(exp):
    """Between the first and last step only the forgotten concepts' test images are encoded: the same
    forgotten accuracy as the whole test set gives (exactly), with retain_fine and U left NaN there."""
    data = R.attack_set(exp, "forget", 5)
    light = R.relearn(exp, exp.model, data, steps=(0, 1, 2))
    full = R.relearn(exp, exp.model, data, steps=(0, 1, 2), utility_every_step=True)
    assert light.forget_fine.tolist() == full.forget_fine.tolist()
    assert light.U.isna().tolist() == [False, True, False]
    assert full.U.notna().all() and full.U.between(0, 1).all()
    assert light.U.iloc[[0, 2]].tolist() == full.U.iloc[[0, 2]].tolist()


def test_curves_frame_and_summary(exp):
    df = R.curves(exp, {"original": exp.model}, ks=(1,), attacks=("forget",), steps=(0, 1))
    assert list(df.columns) == [
        "model",
        "attack",
        "k",
        "images",
        "step",
        "forget_fine",
        "retain_fine",
        "U",
    ]
    assert len(df) == 2 and df.U.iloc[0] == pytest.approx(1.0)


def test_summary_numbers_on_a_constructed_frame():
    rows = []
    for model, accs in {
        "original": [0.8, 0.9, 0.9],
        "unlearned": [0.0, 0.2, 0.6],
        R.REFERENCE: [0.0, 0.1, 0.2],
    }.items():
        rows += [
            dict(model=model, attack="forget", k=5, step=s, forget_fine=a, U=1.0)
            for s, a in zip((0, 4, 16), accs)
        ]
    out = R.summarize(pd.DataFrame(rows), original_accuracy=0.8).set_index("model")
    assert out.loc["unlearned", "steps_to_half"] == 16
    assert out.loc["original", "steps_to_half"] == 0
    assert pd.isna(out.loc[R.REFERENCE, "steps_to_half"])
    assert out.loc["unlearned", "residual"] == pytest.approx((0.0 + 0.1 + 0.4) / 3)
    assert out.loc[R.REFERENCE, "residual"] == pytest.approx(0.0)
    alone = R.summarize(pd.DataFrame(rows[:3]), original_accuracy=0.8)
    assert alone.residual.isna().all()  # no reference, no residual


def test_attack_runs_on_a_random_vit_b32_with_real_images(tmp_path, monkeypatch):
    """The real path: any open_clip model and a real-data layout (random-init ViT-B-32, an ImageNet-style
    folder); off the world, the unrelated attack uses a group the request does not touch."""
    from test_paper_preset import imagenet_folder, small_taxonomy

    from kt_lib.experiment import Experiment
    from kt_lib.knowledge.realdata import build_manifest
    from kt_lib.models import load_model
    from kt_lib.sources import manifest_source

    monkeypatch.setenv("KT_CACHE", str(tmp_path / "cache"))
    tax = small_taxonomy(tmp_path / "tinydogs.json")
    imagenet_folder(tmp_path / "train", tax)
    model, preprocess, tokenizer = load_model("ViT-B-32", "random", device="cpu", progress=False)
    manifest = build_manifest(
        tmp_path / "train",
        tax,
        train_per_class=3,
        test_per_class=2,
        verbose=False,
        layout="imagenet",
    )
    src = manifest_source(manifest, tax, preprocess, name="fixture")
    forget = [n for n in tax.fine_names if n != "Samoyed"][0]
    exp = Experiment([forget], model, tokenizer, samples_per_class=2, data=src)
    sib, unrelated = R.attack_set(exp, "siblings", 1), R.attack_set(exp, "unrelated", 1)
    assert forget not in sib.fine and sib.fine and unrelated.fine == ["Samoyed"]
    with pytest.raises(ValueError, match="holds only 3"):
        R.attack_set(exp, "forget", 4)
    df = R.curves(exp, {"random": model}, ks=(1,), attacks=("unrelated",), steps=(0, 1))
    assert len(df) == 2 and df.forget_fine.between(0, 1).all()
