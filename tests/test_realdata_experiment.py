"""The same knowledge request on a real-data layout, by parameters only (a tiny Stanford Dogs fixture)."""

import numpy as np
import open_clip
from PIL import Image

from kt_lib.experiment import Experiment
from kt_lib.knowledge.realdata import build_manifest
from kt_lib.knowledge.taxonomy import Taxonomy
from kt_lib.sources import manifest_source
from kt_lib.world.config import WorldConfig
from kt_lib.world.render import render_dog

BREEDS = ["German short-haired pointer", "vizsla", "Samoyed"]


def make_stanford_dogs(root, per_class=8):
    tax = Taxonomy.load("imgnetdogs")
    for b, breed in enumerate(BREEDS):
        concept = tax.lookup(breed)
        folder = root / "Images" / f"{concept.wnid}-{concept.name.replace(' ', '_')}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            img = render_dog(np.random.default_rng([99, b, i]), breed, WorldConfig())
            Image.fromarray(img).resize((64, 64)).save(folder / f"{i}.jpg")
    (root / "Images" / f"{tax.lookup('vizsla').wnid}-vizsla" / "broken.jpg").write_bytes(
        b"\xff\xd8 not a jpeg"
    )


def test_request_runs_on_a_real_layout(tmp_path, world_model, monkeypatch):
    monkeypatch.setenv("KT_CACHE", str(tmp_path / "cache"))
    make_stanford_dogs(tmp_path / "dogs")
    model, tokenizer, _ = world_model
    preprocess = open_clip.image_transform(model.visual.image_size, is_train=False)  # load_model's

    manifest = build_manifest(
        tmp_path / "dogs", "imgnetdogs", train_per_class=5, test_per_class=3, verbose=False
    )
    assert len(manifest.skipped) == 1  # the corrupt file is reported and skipped
    src = manifest_source(manifest, "imgnetdogs", preprocess, name="fixture")
    exp = Experiment(
        "German short-haired pointer", model, tokenizer, samples_per_class=4, data=src, num_epochs=2
    )
    assert exp.forget == ["German short-haired pointer"]
    assert len(exp.forget_set) == 4
    row = exp.run("nhl_kl")
    assert 0 <= row["U"] <= 1 and np.isfinite(row["QU"])
    assert row["after_forget_fine"] <= exp.before["forget_fine"]
