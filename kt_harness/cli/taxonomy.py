"""``kt taxonomy show|request``: inspect a taxonomy and compile knowledge requests to JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kt_lib.knowledge.taxonomy import BUILTIN, Concept, Taxonomy

TAXONOMY_HELP = (
    f"bundled taxonomy ({'|'.join(BUILTIN)}) or a taxonomy JSON path (default: dogworld)"
)


def _label(c: Concept) -> str:
    ids = ", ".join(x for x in (c.synset, c.wnid) if x)
    return f"{c.name} [{ids}]" if ids else c.name


def run_show(args: argparse.Namespace) -> int:
    """Print a concept's path to the root, its siblings and its children."""
    tax = Taxonomy.load(args.taxonomy)
    c = tax.lookup(args.name)
    print(f"{_label(c)}  (taxonomy {tax.name})")
    if c.aliases:
        print(f"  aliases : {', '.join(c.aliases)}")
    print(f"  path    : {' -> '.join(x.name for x in tax.path_to_root(c.name))}")
    print(f"  siblings: {', '.join(s.name for s in tax.siblings(c.name)) or '-'}")
    kids = tax.children(c.name)
    print(f"  children: {', '.join(k.name for k in kids) or '- (a leaf)'}")
    if kids:
        print(f"  leaves  : {len(tax.leaves(c.name))}")
    return 0


def run_request(args: argparse.Namespace) -> int:
    """Compile NAMEs into forget/siblings/parents/unrelated and write them as JSON (or print them)."""
    req = Taxonomy.load(args.taxonomy).request(args.names)
    text = json.dumps(req.to_dict(), indent=1, ensure_ascii=False)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        print(
            f"wrote {path}: forget {len(req.forget)}, siblings {len(req.siblings)}, parents "
            f"{len(req.parents)}, unrelated {len(req.unrelated)}"
        )
    else:
        print(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``taxonomy show`` and ``taxonomy request`` to a ``kt`` argparse subparsers object."""
    help = "inspect concept taxonomies and compile knowledge requests"
    p = subparsers.add_parser("taxonomy", help=help, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="taxonomy_command", metavar="{show,request}", required=True)

    show = sub.add_parser("show", help="path to the root, siblings and children of a concept")
    show.add_argument("name", help="concept name or alias, e.g. 'German short-haired pointer'")
    show.add_argument("--taxonomy", default="dogworld", help=TAXONOMY_HELP)
    show.set_defaults(func=run_show)

    req = sub.add_parser("request", help="compile a knowledge request into forget/retain sets")
    help = "concepts to forget (leaves or inner nodes)"
    req.add_argument("names", nargs="+", metavar="NAME", help=help)
    req.add_argument("--taxonomy", default="dogworld", help=TAXONOMY_HELP)
    help = "write the compiled sets here (default: print them)"
    req.add_argument("--json", metavar="PATH", help=help)
    req.set_defaults(func=run_request)
    return p


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m kt_harness.cli.taxonomy show vizsla``) until the ``kt`` CLI wires it."""
    parser = argparse.ArgumentParser(prog="kt")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["taxonomy", *(argv if argv is not None else sys.argv[1:])])
    try:
        return args.func(args)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
