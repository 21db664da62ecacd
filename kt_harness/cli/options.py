"""Options that `kt unlearn` and `kt reproduce` share: the model and the data (embedded world or real
photos by flags alone). Not a subcommand (no `register`); `write_json` writes every --json."""

from __future__ import annotations

import json
from pathlib import Path

# kt_lib.knowledge.realdata.LAYOUTS (tests/test_cli_inputs.py checks they agree): importing realdata here
# would import torchvision (and torch._dynamo) into every `kt` command, a cached `kt unlearn` rerun included
LAYOUTS = ("imagenet", "stanford-dogs", "folders", "manifest")


def add_model_options(p) -> None:
    p.add_argument("--model", default="kt-tiny-dogworld", help="open_clip model name")
    help = (
        "an open_clip tag (openai), a local weights file, or 'random' (an untrained architecture); "
    )
    p.add_argument("--pretrained", help=help + "with --model local-dir:/path the folder's weights")
    p.add_argument("--device", default="auto")


def add_data_options(p) -> None:
    help = "real photos: a folder in --layout, or a manifest .jsonl (default: the embedded world)"
    p.add_argument("--data-root", help=help)
    p.add_argument(
        "--layout", choices=LAYOUTS, help="how --data-root is laid out (default: detect)"
    )
    help = "a bundled taxonomy (dogworld, imgnetdogs, oxford_pet) or a JSON path "
    p.add_argument(
        "--taxonomy", help=help + "(default: dogworld on the world, imgnetdogs on real photos)"
    )
    p.add_argument("--train-per-class", type=int, default=200, help="real photos: proxy pool size")
    help = "real photos: test images per class"
    p.add_argument("--test-per-class", type=int, default=50, help=help)


def check_data(args) -> None:
    """Flag combinations that cannot work, caught before any model is loaded."""
    if args.data_root:
        return
    if args.taxonomy not in (None, "dogworld"):
        raise ValueError(
            f"--taxonomy {args.taxonomy} needs real photos: add --data-root (the embedded world "
            "uses the dogworld taxonomy)"
        )
    if args.model != "kt-tiny-dogworld":
        raise ValueError(
            f"--model {args.model} needs real photos: add --data-root (the embedded world's images "
            "are 32-px tensors for the world model)"
        )


def open_data(args, preprocess):
    """(DataSource, data record) from --data-root/--layout/--taxonomy, or the embedded world.
    Skipped (unreadable) images are printed, counted (`skipped_count`) and listed (`skipped`) in the
    record: nothing is dropped silently."""
    from kt_lib.knowledge.taxonomy import Taxonomy
    from kt_lib.sources import manifest_source, world_source

    check_data(args)
    if not args.data_root:
        src = world_source(eval_per_class=getattr(args, "eval_per_class", None))
        return src, dict(name="dogworld", taxonomy="dogworld", root=None)
    from kt_lib.knowledge.realdata import build_manifest, load_manifest

    taxonomy = Taxonomy.load(args.taxonomy or "imgnetdogs")
    root = Path(args.data_root)
    if not root.exists():
        raise FileNotFoundError(f"--data-root {root} is not a folder (or a manifest .jsonl)")
    is_manifest = args.layout == "manifest" or (args.layout is None and root.suffix == ".jsonl")
    if is_manifest:
        manifest, skipped = load_manifest(root), []
    else:
        if not root.is_dir():
            raise FileNotFoundError(f"--data-root {root} is not a folder (or a manifest .jsonl)")
        manifest = build_manifest(
            root,
            taxonomy,
            train_per_class=args.train_per_class,
            test_per_class=args.test_per_class,
            layout=args.layout,
            verbose=False,
        )
        skipped = list(manifest.skipped)
        for path in skipped:
            print(f"  skipped unreadable image: {path}")
        if skipped:
            print(
                f"  {len(skipped)} of {len(skipped) + len(manifest)} image files read could not be "
                "decoded and were skipped"
            )
        missing = manifest.stats["missing_classes"]
        if missing:
            print(f"  {len(missing)} taxonomy classes have no folder (first: {missing[:5]})")
    name = f"{taxonomy.name}-{root.name}"
    src = manifest_source(manifest, taxonomy, preprocess, name=name)
    record = dict(
        name=name,
        taxonomy=taxonomy.name,
        root=str(root.resolve()),
        layout=args.layout or ("manifest" if is_manifest else "detected"),
        images=len(manifest),
        skipped_count=len(skipped),
        skipped=skipped,
    )
    return src, record


def write(path: str, data: str | bytes) -> None:
    """Write `data` to `path` (its folder made) and say so."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data if isinstance(data, bytes) else data.encode())
    print(f"wrote {path}")


def write_json(path: str | None, payload: dict) -> None:
    """`payload` as indented JSON to `path`; nothing without a path."""
    if path:
        write(path, json.dumps(payload, indent=2, default=str) + "\n")
