"""Re-record the code behind every hand-bumped cache version (tests/data/cache_versions.json).

Each version names the code that decides what its cache holds (`CODE`). The lock file records, per
version, its number and a hash of each file or function of that code; tests/test_versions.py fails when
that code changed and the number did not, and when a `*_VERSION` or `*FORMAT` integer has no entry here.

    python tools/cache_versions.py                        # after bumping the versions whose results change
    python tools/cache_versions.py --same ENGINE_VERSION  # the code changed, its numbers and rows did not

A hash reads the syntax tree (comments, formatting and docstrings do not count) in sorted path order, so
it does not depend on the machine (nor on the fields `ast.dump` shows in one Python version).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = Path("tests/data/cache_versions.json")
SEARCHED = ("kt_lib", "kt_harness")
VERSION = re.compile(r"[A-Z_]*(VERSION|FORMAT)")
ENGINE = [  # the loop, its methods and the scoring of a run's row
    *("kt_lib/unlearn.py", "kt_lib/selection.py", "kt_lib/step.py", "kt_lib/losses.py"),
    "kt_lib/efficiency.py",
    *("kt_lib/methods.py", "kt_lib/methods/*.py"),
    *("kt_lib/prompts.py", "kt_lib/vocab.py", "kt_lib/textenc.py", "kt_lib/zeroshot.py"),
    *("kt_lib/metrics.py", "kt_lib/eval/evaluator.py", "kt_lib/integrity.py"),
    *("kt_lib/experiment.py", "kt_lib/sources.py", "kt_lib/world/data.py::WorldDataset"),
    "kt_lib/world/data.py::FamilyDataset",
]
# version -> the code that decides its cache's content: globs of files, or "glob::name" for one top-level
# function, class or assignment. A run's key holds the resolved settings, the exemplars and the model's
# weights, so presets and the world model are not listed; every derived result's key holds its run's key,
# so ENGINE_VERSION also covers the zero-shot code the derived computations share with the runs.
CODE = {
    "ENGINE_VERSION": ENGINE,
    "DERIVED_VERSION": [
        *("kt_lib/derived.py", "kt_lib/eval/probe.py"),
        *("kt_lib/eval/collateral.py", "kt_lib/eval/recovery.py", "kt_lib/eval/attack_sets.py"),
        *("kt_lib/knowledge/taxonomy.py", "kt_lib/world/pretrain.py::multi_positive_loss"),
        "kt_lib/presets.py::default_lr",
        *("kt_lib/eval/audit.py", "kt_lib/eval/membership.py", "kt_lib/eval/forget_quality.py"),
        *("kt_lib/eval/quantize.py", "kt_lib/eval/inversion.py", "kt_lib/sequential.py"),
    ],
    "RENDER_VERSION": [
        *("kt_lib/world/render.py", "kt_lib/world/config.py"),
        *("kt_lib/world/data.py::render_pool", "kt_lib/world/data.py::_counts"),
    ],
    "POOL_FORMAT": [
        f"kt_lib/world/data.py::{name}"
        for name in ("POOLS", "POOL_KEYS", "render_pool", "_encode", "_decode", "load_pool")
    ],
    "REPORT_VERSION": [
        *("kt_harness/cli/world.py::_known", "kt_harness/cli/world.py::_samples_png"),
        *("kt_lib/world/model.py::evaluate_world_model", "kt_lib/notebook/*.py::draw_samples"),
        *("kt_lib/zeroshot.py", "kt_lib/textenc.py", "kt_lib/world/data.py::WorldDataset"),
        "kt_lib/world/data.py::FamilyDataset",
    ],
    "TENSORS_FORMAT": [
        f"kt_lib/knowledge/datasets.py::{name}"
        for name in ("cached_tensors", "_tensors", "_encode", "_decode")
    ],
    "RunCache.FORMAT": ["kt_lib/cache.py::RunCache", "kt_lib/cache.py::_row_sha"],
    "CHECKPOINT_FORMAT": [
        "kt_lib/checkpoint.py::save_checkpoint",
        "kt_lib/checkpoint.py::load_checkpoint",
    ],
}


def _tree(node) -> str:
    """The syntax tree as text without docstrings, positions and empty fields (ast.dump's set of fields
    shown differs between Python versions)."""
    if isinstance(node, list):
        body = node[1:] if node and _is_doc(node[0]) else node
        return "[" + ",".join(_tree(n) for n in body) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    fields = ((k, v) for k, v in ast.iter_fields(node) if v is not None and v != [])
    return type(node).__name__ + "(" + ",".join(f"{k}={_tree(v)}" for k, v in fields) + ")"


def _is_doc(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(getattr(node.value, "value", None), str)


def _named(tree: ast.Module, name: str):
    for node in tree.body:
        targets = getattr(node, "targets", [node])
        if any(getattr(t, "id", getattr(t, "name", None)) == name for t in targets):
            return node
    return None


def code_hashes(patterns, root: Path = ROOT) -> dict[str, str]:
    """{"path" or "path::name": hash} of the code that `patterns` name."""
    out = {}
    for pattern in patterns:
        files, name = (pattern.split("::") + [None])[:2]
        for path in sorted(root.glob(files)):
            tree = ast.parse(path.read_text())
            node = tree if name is None else _named(tree, name)
            if node is not None:
                key = path.relative_to(root).as_posix() + (f"::{name}" if name else "")
                out[key] = hashlib.sha256(_tree(node).encode()).hexdigest()[:16]
    return out


def versions(root: Path = ROOT) -> dict[str, list]:
    """{name or "Class.name": [(path, value), ...]} of every integer `*_VERSION` / `*FORMAT` constant."""
    found = {}
    for path in sorted(p for folder in SEARCHED for p in (root / folder).rglob("*.py")):
        tree, where = ast.parse(path.read_text()), path.relative_to(root).as_posix()
        classes = [(c.name + ".", c.body) for c in tree.body if isinstance(c, ast.ClassDef)]
        for prefix, node in ((pre, n) for pre, body in [("", tree.body), *classes] for n in body):
            value = getattr(getattr(node, "value", None), "value", None)
            for name in (t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)):
                if VERSION.fullmatch(name) and type(value) is int:
                    found.setdefault(prefix + name, []).append((where, value))
    return found


def current(root: Path = ROOT, code=None) -> dict:
    """Each version's number and code hashes as they are in `root` now; problems raise ValueError."""
    code, found, out = code or CODE, versions(root), {}
    if missing := sorted(set(found) - set(code)):
        raise ValueError(
            f"{missing} have no entry in tools/cache_versions.py CODE: list their code"
        )
    for name, patterns in code.items():
        if (times := len(found.get(name, ()))) != 1:
            raise ValueError(f"{name} is defined {times} times under {SEARCHED}, not once")
        hashes = code_hashes(patterns, root)
        if not hashes:
            raise ValueError(f"nothing matches the code of {name} ({patterns}): update CODE")
        out[name] = dict(version=found[name][0][1], defined_in=found[name][0][0], code=hashes)
    return out


def problems(recorded: dict, now: dict) -> dict[str, str]:
    """{name: message} for every version whose code or number differs from the record."""
    out, rerun = {}, "run `python tools/cache_versions.py`"
    for name in sorted(set(recorded) | set(now)):
        old, new = recorded.get(name), now.get(name)
        if old is None or new is None:
            out[name] = f"{name} is {'new' if old is None else 'gone'}: {rerun}"
            continue
        code = {*old["code"], *new["code"]}
        changed = sorted(k for k in code if old["code"].get(k) != new["code"].get(k))
        if changed and old["version"] == new["version"]:
            out[name] = (
                f"the code behind {name} changed ({', '.join(changed)}): bump {name} "
                f"({new['defined_in']}) if what its cache holds changes (numbers, rows, layout), then "
                f"{rerun}; if it does not, {rerun[:-1]} --same {name}` (a file that moved: add its new "
                "path to CODE there)"
            )
        elif old != new:
            out[name] = f"{name} is {new['version']}, recorded {old['version']}: {rerun}"
    return out


def main(argv=None, root: Path = ROOT, code=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--same", nargs="+", default=[], metavar="NAME", help="code changed only")
    args = parser.parse_args(argv)
    now, lock = current(root, code), root / LOCK
    recorded = json.loads(lock.read_text()) if lock.exists() else {}
    found = problems(recorded, now)
    refused = [m for n, m in found.items() if "--same" in m and n not in args.same]
    if refused:
        print("\n".join(refused), file=sys.stderr)
        return 1
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(now)} cache versions in {LOCK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
