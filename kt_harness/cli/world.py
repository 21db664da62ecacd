"""`kt world`: load (or pretrain) the embedded world model and print what it knows."""

from __future__ import annotations

import json
from pathlib import Path

from kt_harness.cli.options import write, write_json

REPORT_VERSION = 1  # of the cached accuracies and sample grid (`_known`): bump when they change


def register(sub) -> None:
    p = sub.add_parser(
        "world", help="pretrain-or-load the embedded world model and print what it knows"
    )
    help = "ignore shipped/cached checkpoints and pretrain"
    p.add_argument("--retrain", action="store_true", help=help)
    p.add_argument("--save-to", help="where --retrain writes the checkpoint (default: the cache)")
    help = "the never-learned reference: pretrain with these breeds (or groups) left out, same schedule"
    p.add_argument("--without", nargs="+", metavar="NAME", help=help)
    p.add_argument("--json", help="write the accuracies to this JSON file")
    p.add_argument("--samples", help="write a labelled sample grid to this PNG")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    names = ("samples", "retrain", "quiet", "save_to", "without")
    report(args.json, **{k: getattr(args, k) for k in names})
    return 0


def report(
    json_path: str | None = None,
    samples: str | None = None,
    retrain: bool = False,
    quiet: bool = False,
    save_to: str | None = None,
    without=None,
    reuse: bool = False,
) -> dict:
    """Load (or pretrain) the world model, print what it knows, optionally write JSON and a sample grid.
    `reuse`: a loaded model's accuracies and sample grid come from the cache when computed before (what
    `kt tutorial` asks for: a second tutorial does not evaluate the same checkpoint again)."""
    from kt_lib.world.model import evaluate_world_model, world_model

    left_out = []
    if without:
        from kt_lib.knowledge.taxonomy import Taxonomy

        left_out = Taxonomy.from_world().request(without).forget
    model, tokenizer, info = world_model(
        retrain=retrain,
        progress=not quiet,
        save_to=Path(save_to) if save_to else None,
        without=left_out,
    )
    if reuse and info.get("loaded") and not left_out:  # what it knows and its samples, drawn once
        acc, png = _known(model, tokenizer, Path(info["checkpoint"]))
    else:
        acc, png = evaluate_world_model(model, tokenizer), None
    summary = dict(
        **{k: acc[k] for k in ("fine", "coarse", "coarse_via_fine", "fine_ood", "coarse_ood")},
        zero_shot=acc["zero_shot"],
        train_seconds=info.get("train_seconds"),
        checkpoint=info["checkpoint"],
        loaded=info.get("loaded", False),
        without=left_out,
    )
    if left_out:
        summary["left_out_fine"] = left_out_accuracy(model, tokenizer, left_out)
    print(f"world model: {'loaded' if summary['loaded'] else 'pretrained'} {summary['checkpoint']}")
    print(
        f"  photo test:   fine {acc['fine']:.1%}  coarse {acc['coarse']:.1%}  coarse via fine {acc['coarse_via_fine']:.1%}"
    )
    print(f"  drawing test: fine {acc['fine_ood']:.1%}  coarse {acc['coarse_ood']:.1%}")
    print("  zero-shot:    " + "  ".join(f"{k} {v:.1%}" for k, v in acc["zero_shot"].items()))
    if left_out:
        print(f"  left out of pretraining (photo fine): {summary['left_out_fine']:.1%}")
    if summary["train_seconds"] is not None:
        print(f"  pretraining took {summary['train_seconds']:.0f} s")
    write_json(json_path, summary)
    if samples:
        write(samples, png or _samples_png())
    return summary


def _samples_png() -> bytes:
    import io

    from kt_lib.notebook.plots import draw_samples

    buf = io.BytesIO()
    draw_samples().savefig(buf, dpi=150, format="png")
    return buf.getvalue()


def _known(model, tokenizer, checkpoint: Path) -> tuple[dict, bytes]:
    """The accuracies of `evaluate_world_model` and the sample grid's PNG of a loaded checkpoint, cached
    under its name (which carries the world's and the pretraining's digests) in `$KT_CACHE`."""
    import base64

    from kt_lib.cachefile import cache_dir, load_or_build
    from kt_lib.world.model import evaluate_world_model

    def build():
        return dict(acc=evaluate_world_model(model, tokenizer), png=_samples_png())

    def encode(v):
        return json.dumps(dict(v, png=base64.b64encode(v["png"]).decode())).encode()

    def decode(data):
        v = json.loads(data)
        return dict(v, png=base64.b64decode(v["png"]))

    path = cache_dir() / f"world-report-{checkpoint.stem}.ktc"
    known = load_or_build(path, "world-report", REPORT_VERSION, build, encode, decode)
    return known["acc"], known["png"]


def left_out_accuracy(model, tokenizer, breeds: list[str]) -> float:
    """Fine (56-way) zero-shot accuracy on the photo test images of `breeds`."""
    from kt_lib.world.config import WorldTaxonomy
    from kt_lib.world.data import WorldDataset
    from kt_lib.zeroshot import accuracy, encode_images, predict, text_head

    ds = WorldDataset("test", "photo", breeds=breeds)
    head = text_head(model, tokenizer, WorldTaxonomy().fine)
    return accuracy(predict(encode_images(model, ds.images), head), ds.fine)
