"""Count the project's Python lines as `wc -l` does, against issue 28's targets.

    python tools/count_lines.py          # a table
    python tools/count_lines.py --json   # the same as JSON

- kt_lib: every kt_lib/**/*.py;
- notebooks' reach: the kt_lib modules the notebooks can run, from what notebooks/*.ipynb import (a name of
  kt_lib's lazy `_LAZY` table resolves to its module) through every import, module-level, inside a
  function or by name (tools/imports.py), with the packages' __init__ files on the way;
- kt_harness/**/*.py, benchmarks/*.py and tools/*.py, and the non-test total: all four with kt_lib.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

from imports import ROOT, import_graph, sources

# issue 28's baseline (main 3942934) and targets; the total's baseline was kt_lib + benchmarks + tools
TARGETS = {"kt_lib": (12571, 9000), "notebooks_reach": (8240, 6000), "total": (13690, 13690)}


def lines(text: str) -> int:
    """Physical lines as `wc -l` counts them (newline characters)."""
    return text.count("\n")


def _lazy_table(srcs: dict[str, str]) -> dict[str, str]:
    """kt_lib's public name -> the module it resolves to (`_LAZY` in kt_lib/__init__.py)."""
    for node in ast.parse(srcs["kt_lib"]).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_LAZY":
            return {name: module for name, (module, _) in ast.literal_eval(node.value).items()}
    raise ValueError("kt_lib/__init__.py has no _LAZY table")


def notebook_imports(root: Path, srcs: dict[str, str]) -> set[str]:
    """The kt_lib modules notebooks/*.ipynb import: `from kt_lib import name` (through `_LAZY`),
    `kt_lib.name`, `from kt_lib.module import ...` and `import kt_lib.module`."""
    lazy, found = _lazy_table(srcs), set()
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            code = "\n".join(
                line
                for line in "".join(cell["source"]).splitlines()
                if not line.lstrip().startswith(("%", "!"))
            )
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.ImportFrom) and node.module == "kt_lib":
                    found |= {lazy.get(a.name, "kt_lib") for a in node.names}
                elif isinstance(node, ast.ImportFrom) and (node.module or "") in srcs:
                    found.add(node.module)
                elif isinstance(node, ast.Import):
                    found |= {a.name for a in node.names if a.name in srcs and a.name != "kt_lib"}
                elif isinstance(node, ast.Attribute) and getattr(node.value, "id", "") == "kt_lib":
                    found |= {lazy[node.attr]} if node.attr in lazy else set()
    return found


def reach(start: set[str], graph: dict[str, dict[str, str]]) -> set[str]:
    """Every module `start` can run: imports of any kind, and the packages above each module. kt_lib's own
    __init__ counts, but its lazy table is followed only for the names asked (`start`)."""
    seen, todo = set(), list(start)
    while todo:
        m = todo.pop()
        if m in seen or m not in graph:
            continue
        seen.add(m)
        parts = m.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += [] if m == "kt_lib" else list(graph[m])
    return seen


def count(root: Path = ROOT) -> dict:
    """The counts, with the notebooks' reach's modules, and the targets."""
    srcs = sources(root)
    kt_lib = {m: lines(s) for m, s in srcs.items() if m.split(".")[0] == "kt_lib"}
    reached = sorted(reach(notebook_imports(root, srcs), import_graph(srcs)))
    out = {
        "kt_lib": sum(kt_lib.values()),
        "kt_lib_modules": len(kt_lib),
        "notebooks_reach": sum(kt_lib[m] for m in reached),
        "notebooks_reach_modules": reached,
        "kt_harness": sum(lines(s) for m, s in srcs.items() if m.split(".")[0] == "kt_harness"),
        "benchmarks": sum(lines(p.read_text()) for p in (root / "benchmarks").glob("*.py")),
        "tools": sum(lines(p.read_text()) for p in (root / "tools").glob("*.py")),
    }
    out["total"] = out["kt_lib"] + out["kt_harness"] + out["benchmarks"] + out["tools"]
    out["targets"] = {k: {"was": was, "at_most": most} for k, (was, most) in TARGETS.items()}
    return out


def table(counts: dict) -> str:
    rows = [
        ("kt_lib/**/*.py", "kt_lib", f"{counts['kt_lib_modules']} modules"),
        (
            "what the notebooks reach",
            "notebooks_reach",
            f"{len(counts['notebooks_reach_modules'])} modules",
        ),
        ("kt_harness/**/*.py", "kt_harness", ""),
        ("benchmarks/*.py", "benchmarks", ""),
        ("tools/*.py", "tools", ""),
        ("non-test total", "total", "kt_lib + kt_harness + benchmarks + tools"),
    ]
    out = [f"{'lines (wc -l)':<26}{'now':>8}{'target':>11}{'was':>8}"]
    for label, key, note in rows:
        target = counts["targets"].get(key)
        goal = f"<= {target['at_most']:,}" if target else ""
        was = f"{target['was']:,}" if target else ""
        met = "" if not target else (" met" if counts[key] <= target["at_most"] else " NOT MET")
        out.append(f"{label:<26}{counts[key]:>8,}{goal:>11}{was:>8}{met}  {note}".rstrip())
    return "\n".join(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    counts = count()
    print(json.dumps(counts, indent=1) if args.json else table(counts))


if __name__ == "__main__":
    main()
