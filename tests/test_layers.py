"""Imports run one way (issue 19 item 7): request -> data -> model -> step -> loop -> evaluation ->
experiment -> notebooks / sweeps / CLI / benchmarks. Every import counts, function-level ones included."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = (
    "kt_harness.cli",
    "kt_lib.notebook",
    "kt_harness.sweep",
    "kt_harness.bench",
)  # notebooks, sweeps, CLI, bench
EXPERIMENT = ("kt_lib.experiment", "kt_harness.reproduce")  # the experiment layer


def _graph() -> dict[str, set[str]]:
    mods = {}
    for path in [*(ROOT / "kt_lib").rglob("*.py"), *(ROOT / "kt_harness").rglob("*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = path
    graph = {name: set() for name in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in mods and t != name}
    return graph


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_nothing_imports_from_a_layer_above_it():
    graph, bad = _graph(), []
    for name, targets in graph.items():
        if name in ("kt_lib", "kt_harness", "kt_harness.__main__") or _within(name, TOP):
            continue  # the package's lazy exports and the entry point see everything
        for t in targets:
            if _within(t, TOP) or (_within(t, EXPERIMENT) and not _within(name, EXPERIMENT)):
                bad.append(f"{name} -> {t}")
    assert not bad, "imports against the layers: " + ", ".join(sorted(bad))


def test_the_evaluator_reads_the_world_through_the_data_source():
    assert not {t for t in _graph()["kt_lib.eval.evaluator"] if t.startswith("kt_lib.world")}


def test_no_import_cycles():
    graph, state, cycles = _graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for t in sorted(graph[node]):
            if state.get(t) == "open":
                cycles.append(" -> ".join(path[path.index(t) :] + [t]))
            elif t not in state:
                visit(t, path + [t])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(cycles)
