"""The import graph of kt_lib and kt_harness, read from their source (nothing is imported): every import,
module-level, inside a function or by name. tests/test_layers.py checks it against the layers;
tools/count_lines.py follows it from what the notebooks import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kt_lib", "kt_harness")


def sources(root: Path = ROOT, packages=PACKAGES) -> dict[str, str]:
    """Module name -> source text of every module of `packages` (kt_lib and kt_harness)."""
    out = {}
    for path in sorted(p for pkg in packages for p in (root / pkg).rglob("*.py")):
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        out[name] = path.read_text()
    return out


def is_package(name: str, srcs) -> bool:
    return any(other.startswith(name + ".") for other in srcs)


def import_graph(srcs: dict[str, str]) -> dict[str, dict[str, str]]:
    """Module -> {imported module: how} for imports between the modules of `srcs` ("import",
    "function-level import" or "by name")."""
    graph = {name: {} for name in srcs}
    for name, text in srcs.items():
        tree = ast.parse(text)
        top = {id(n) for n in tree.body}
        top |= {id(n) for s in tree.body if isinstance(s, ast.If | ast.Try) for n in ast.walk(s)}
        package = name if is_package(name, srcs) else name.rpartition(".")[0]
        prose = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}  # docstrings
        for node in ast.walk(tree):
            how = "import" if id(node) in top else "function-level import"
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(max(node.level - 1, 0)):
                    base = base.rpartition(".")[0]
                module = ".".join(p for p in (base if node.level else "", node.module or "") if p)
                found = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in srcs]
                targets = found + ([module] if len(found) < len(node.names) else [])
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in prose
            ):
                targets, how = [node.value.partition(":")[0]], "by name"
                if "." not in targets[0]:
                    continue  # "kt_lib" alone names the package's folder (importlib.resources)
            else:
                continue
            for t in targets:
                if t in srcs and t != name:
                    graph[name].setdefault(t, how)
    return graph
