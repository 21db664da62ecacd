"""Imports run one way (issue 28 item 3). Every module of kt_lib and kt_harness has a rank in `LAYERS`,
lowest first:

    request (knowledge) -> data (world) -> model -> loss (methods) -> step -> loop -> evaluation ->
    experiment -> analysis (of an experiment's runs) -> notebook helpers -> harness (sweep, bench) -> cli

A module imports modules of a lower rank, or of its own rank where no cycle forms. Every import counts:
module-level, inside a function, under TYPE_CHECKING, and by name (a string naming a module, as in
`importlib.import_module` or kt_lib's lazy `_LAZY` table). Subpackages (kt_lib.world, kt_lib.eval, ...,
kt_harness.sweep) form no cycle either, nor does kt_lib import kt_harness. A module missing from `LAYERS`
fails: place a new module where it belongs. `violations(graph)` takes any graph, so the tests below show it
failing on deliberately added upward imports.

Reach-ups by duck typing (a module asking an object it is handed for an attribute that only a higher
layer's class defines, e.g. `getattr(exp, "derive")` below the experiment) are found by
`duck_typing(sources)`, a heuristic over parameters' attributes and getattr/hasattr names. The relearning
attack, the probes and the collateral damage take an `Experiment` and read its model, data and evaluator:
they rank above it ("analysis"), although they live in kt_lib/eval/ beside the evaluator it uses.
"""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from imports import import_graph, is_package, sources  # noqa: E402


def _in(package: str, modules: str) -> tuple[str, ...]:
    return tuple(f"{package}.{m}" for m in modules.split())


LAYERS = (
    ("request", ("kt_lib.knowledge", *_in("kt_lib.knowledge", "taxonomy wordnet"),
                 "kt_lib.world", "kt_lib.world.config")),
    ("data", ("kt_lib.cachefile", *_in("kt_lib.world", "render data"),
              *_in("kt_lib.knowledge", "realdata datasets"))),
    ("model", (*_in("kt_lib", "textenc vocab zeroshot prompts checkpoint"),
               *_in("kt_lib.world", "pretrain model"), "kt_lib.models")),
    ("loss", ("kt_lib.losses", "kt_lib.presets", "kt_lib.methods", "kt_lib.methods.*")),
    ("step", ("kt_lib.step",)),
    ("loop", _in("kt_lib", "unlearn ranges integrity metrics selection efficiency")),
    ("evaluation", ("kt_lib.stats", "kt_lib.eval", "kt_lib.eval.evaluator",
                    *_in("kt_lib.eval", "membership forget_quality quantize inversion"))),
    ("experiment", _in("kt_lib", "sources cache derived experiment sequential")),
    ("analysis", _in("kt_lib.eval", "attack_sets recovery probe residual collateral audit")),
    ("notebook helpers", ("kt_lib", "kt_lib.notebook", *_in("kt_lib.notebook", "style record report "
                          "score_plots plots leaderboard audits panel widgets setup"))),
    ("harness", ("kt_harness", "kt_harness.reproduce", "kt_harness.sweep", *_in("kt_harness.sweep",
                 "checks attack audit config spec store trial requests report ray_backend runner"),
                 "kt_harness.bench", *_in("kt_harness.bench",
                 "timing cudagraph step_variants official_run bench bench_eval bench_run"))),
    ("cli", ("kt_harness.__main__", "kt_harness.cli", *_in("kt_harness.cli",
             "options sequence bench reproduce sweep taxonomy tutorial unlearn world"))),
)  # fmt: skip
# kt_lib.metrics ranks with the loop: it imports nothing, and the loop's model selection scores by it.
# kt_lib.methods.*: a method is one file, placed by being there (issue 28 item 1); every other module is
# named, so a new one fails until it is placed.


def rank(name: str, layers=LAYERS) -> int | None:
    """`name`'s layer index in `layers` (an entry `pkg.*` ranks every module under pkg), None if unranked."""
    for i, (_, names) in enumerate(layers):
        if name in names or any(n.endswith(".*") and name.startswith(n[:-1]) for n in names):
            return i
    return None


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v), on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop()), on.discard(comp[-1])
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def unit(name: str, srcs) -> str:
    """The subpackage a module belongs to (kt_lib.world.data -> kt_lib.world); a top module is its own."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or is_package(name, srcs) else name


def violations(graph: dict[str, dict[str, str]], layers=LAYERS) -> list[str]:
    """Every way `graph` breaks the layers: unranked modules, imports to a higher rank, kt_lib -> kt_harness,
    cycles between modules and between subpackages."""
    out = [f"{m} has no rank in LAYERS" for m in sorted(graph) if rank(m, layers) is None]
    names = [n for _, ns in layers for n in ns]
    out += [f"LAYERS ranks {n}, which does not exist" for n in names if n.rstrip(".*") not in graph]
    for m, targets in sorted(graph.items()):
        for t, how in sorted(targets.items()):
            rm, rt = rank(m, layers), rank(t, layers)
            if m.startswith("kt_lib") and t.startswith("kt_harness"):
                out.append(f"{m} -> {t} ({how}): kt_lib imports kt_harness")
            elif rm is not None and rt is not None and rt > rm:
                out.append(f"{m} ({layers[rm][0]}) -> {t} ({layers[rt][0]}): {how} upward")
    module_cycles = _cycles({m: set(t) for m, t in graph.items()})
    out += ["module cycle: " + " <-> ".join(c) for c in module_cycles]
    units = {}
    for m, targets in graph.items():
        units.setdefault(unit(m, graph), set()).update(unit(t, graph) for t in targets)
    unit_cycles = _cycles({u: ts - {u} for u, ts in units.items()})
    out += [f"subpackage cycle: {' <-> '.join(c)}" for c in unit_cycles if c not in module_cycles]
    return out


def _defined_by_classes(tree) -> set[str]:
    """Attribute names a module's classes define: methods, class-level fields and `self.x = ...`."""
    names = set()
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for node in ast.walk(cls):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return {n for n in names if not n.startswith("__")}


def _asked_of_parameters(tree) -> set[str]:
    """Attribute names a module asks of objects it was handed: `param.x` and getattr/hasattr(_, "x")."""
    names = set()
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        params = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
        params -= {"self", "cls"}
        for node in ast.walk(fn):
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) in params:
                names.add(node.attr)
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in (
                "getattr",
                "hasattr",
            ):
                name = node.args[1] if len(node.args) > 1 else None
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    names.add(name.value)
    return names


def duck_typing(srcs: dict[str, str], layers=LAYERS) -> list[str]:
    """`module (rank) -> attr: only <higher modules> define it`: attributes a module asks of the objects it is
    handed that no class of its own rank or below defines, but a class of a higher layer does."""
    trees = {m: ast.parse(s) for m, s in srcs.items()}
    defined = {m: _defined_by_classes(t) for m, t in trees.items()}
    out = []
    for m, tree in sorted(trees.items()):
        r = rank(m, layers)
        if r is None:
            continue
        below = set().union(*(d for o, d in defined.items() if (rank(o, layers) or 0) <= r))
        for attr in sorted(_asked_of_parameters(tree) - below):
            above = sorted(
                o for o, d in defined.items() if attr in d and (rank(o, layers) or 0) > r
            )
            if above:
                out.append(f"{m} ({layers[r][0]}) -> .{attr}: only {', '.join(above)} define it")
    return out


# Imports against the layers that are known and owned elsewhere: each names who fixes it. The test fails
# on any other violation, and on an entry here that no longer occurs (so the list only shrinks).
PENDING: set[str] = set()
# Attributes the duck-typing heuristic cannot tell from a higher layer's: pandas columns.
NOT_DUCK_TYPING = {
    "kt_lib.eval.recovery": {"attack"},  # frame.attack: a column of the curves' DataFrame
    "kt_lib.notebook.widgets": {"level"},  # runs.level: a column of the runs' DataFrame
}
# Reach-ups by duck typing that are known and owned elsewhere (same rule as PENDING): none today.
PENDING_DUCK_TYPING: set[str] = set()


def _library_attributes() -> set[str]:
    """Attribute names of the library objects modules are handed (containers, tensors, modules, arrays,
    frames, paths, axes, images): asking one of these is not a reach-up."""
    import pathlib

    import matplotlib.axes
    import numpy as np
    import pandas as pd
    import torch
    from PIL import Image

    objects = [dict, list, tuple, set, str, bytes, pathlib.Path, np.ndarray, np.random.Generator]
    objects += [torch.Tensor, torch.nn.Module, torch.optim.Optimizer, pd.DataFrame, pd.Series]
    objects += [matplotlib.axes.Axes, Image.new("RGB", (1, 1))]
    return set().union(*(dir(o) for o in objects))


def test_every_module_has_a_rank_and_imports_run_one_way():
    found = set(violations(import_graph(sources())))
    assert not found - PENDING, "imports against the layers:\n" + "\n".join(sorted(found - PENDING))
    assert not PENDING - found, f"fixed, remove from PENDING: {sorted(PENDING - found)}"


def test_kt_lib_never_imports_kt_harness():
    graph = import_graph(sources())
    into_harness = [(m, t) for m, ts in graph.items() for t in ts if t.startswith("kt_harness")]
    assert into_harness and all(m.startswith("kt_harness") for m, _ in into_harness)
    assert any(
        t.startswith("kt_lib") for m, ts in graph.items() if m.startswith("kt_harness") for t in ts
    )


def reach_ups_by_duck_typing(srcs: dict[str, str]) -> set[str]:
    """`duck_typing` without the library objects' attributes and the known pandas columns."""
    common = _library_attributes()
    found = set()
    for v in duck_typing(srcs):
        module, attr = v.split(" ")[0], v.split("-> .")[1].split(":")[0]
        if attr not in common and attr not in NOT_DUCK_TYPING.get(module, ()):
            found.add(v)
    return found


def test_no_reach_up_by_duck_typing():
    found, pending = reach_ups_by_duck_typing(sources()), PENDING_DUCK_TYPING
    assert not found - pending, "reach-ups by duck typing:\n" + "\n".join(sorted(found - pending))
    assert not pending - found, f"fixed, remove from PENDING_DUCK_TYPING: {sorted(pending - found)}"


def _with(srcs: dict[str, str], **added: str) -> dict[str, str]:
    """`srcs` with source lines appended to modules (`kt_lib__losses="..."` -> kt_lib.losses)."""
    out = dict(srcs)
    for key, text in added.items():
        name = key.replace("__", ".")
        out[name] = out.get(name, '"""An added module."""\n') + "\n" + text + "\n"
    return out


def test_the_checker_fails_on_a_deliberately_added_upward_import():
    srcs = sources()
    before = set(violations(import_graph(srcs)))

    def added(**lines) -> set[str]:
        return set(violations(import_graph(_with(srcs, **lines)))) - before

    # a function-level import from the loss layer up to the experiment (and the cycle it closes)
    found = added(kt_lib__losses="def f():\n    from kt_lib.experiment import Experiment")
    assert (
        "kt_lib.losses (loss) -> kt_lib.experiment (experiment): function-level import upward"
        in found
    )
    assert any(v.startswith("module cycle:") and "kt_lib.losses" in v for v in found)
    # a module-level one from the model to the evaluation, and one by name through importlib
    found = added(kt_lib__zeroshot="from kt_lib.eval import evaluator")
    assert "kt_lib.zeroshot (model) -> kt_lib.eval.evaluator (evaluation): import upward" in found
    found = added(kt_lib__step='import importlib\nimportlib.import_module("kt_lib.notebook.setup")')
    assert "kt_lib.step (step) -> kt_lib.notebook.setup (notebook helpers): by name upward" in found
    # the library into the harness
    assert (
        "kt_lib.notebook.plots -> kt_harness.sweep.report (import): kt_lib imports kt_harness"
        in added(kt_lib__notebook__plots="import kt_harness.sweep.report")
    )
    # same rank, but a cycle between subpackages: world.config -> knowledge and knowledge -> world.config
    assert added(
        kt_lib__world__config="from kt_lib.knowledge.wordnet import DEBIAN_DIR",
        kt_lib__knowledge__taxonomy="from kt_lib.world.config import BREEDS",
    ) == {"subpackage cycle: kt_lib.knowledge <-> kt_lib.world"}
    # a cycle between two modules of one rank
    assert added(
        kt_lib__ranges="from kt_lib import integrity", kt_lib__integrity="import kt_lib.ranges"
    ) == {"module cycle: kt_lib.integrity <-> kt_lib.ranges"}
    # a new module nobody placed
    assert added(kt_lib__shortcut="x = 1") == {"kt_lib.shortcut has no rank in LAYERS"}
    assert added(kt_lib__notebook__extra="x = 1") == {"kt_lib.notebook.extra has no rank in LAYERS"}
    # and a module that left, still ranked
    gone = set(violations(import_graph({m: s for m, s in srcs.items() if m != "kt_lib.stats"})))
    assert gone - before == {"LAYERS ranks kt_lib.stats, which does not exist"}


def test_the_duck_typing_check_finds_an_added_reach_up():
    srcs = sources()
    before = reach_ups_by_duck_typing(srcs)
    lines = (
        "def pick(exp):\n    return exp.evaluator"  # the experiment's evaluator, asked by the loop
    )
    found = reach_ups_by_duck_typing(_with(srcs, kt_lib__ranges=lines)) - before
    assert len(found) == 1 and found.pop().startswith("kt_lib.ranges (loop) -> .evaluator: only ")
    lines = 'def pick(exp):\n    return getattr(exp, "evaluator")'
    assert len(reach_ups_by_duck_typing(_with(srcs, kt_lib__selection=lines)) - before) == 1


def test_ranks_follow_the_docstrings_order():
    import re

    stated = re.sub(r" \([^)]*\)", "", " ".join(__doc__.split()))
    assert " -> ".join(name for name, _ in LAYERS) in stated


def test_the_evaluator_reads_the_world_through_the_data_source():
    assert not {
        t for t in import_graph(sources())["kt_lib.eval.evaluator"] if t.startswith("kt_lib.world")
    }
