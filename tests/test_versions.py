"""No cache version to forget (issue 28 item 4): every hand-bumped version of a cache (`*_VERSION`,
`*FORMAT`) names the code behind it in tools/cache_versions.py, and tests/data/cache_versions.json records
that code's hash with the version's number. Changed code with an unchanged number fails here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "cache_versions", ROOT / "tools" / "cache_versions.py"
)
cv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cv)


def test_the_code_behind_every_cache_version_is_as_recorded():
    recorded = json.loads((ROOT / cv.LOCK).read_text())
    found = cv.problems(recorded, cv.current())
    assert not found, "\n".join(found.values())


def test_a_change_without_a_bump_fails_and_a_bump_or_same_rerecords(tmp_path, capsys):
    """On a small tree: comments and docstrings do not count; a code change fails until the version is
    bumped or the change is declared `--same`; the message names the version and the file."""
    (tmp_path / "kt_lib").mkdir()
    mod, other = tmp_path / "kt_lib" / "engine.py", tmp_path / "kt_lib" / "other.py"
    mod.write_text('"""Doc."""\nX_VERSION = 1\n\n\ndef step(x):\n    return x + 1\n')
    other.write_text("def unrelated():\n    return 0\n")
    code = {"X_VERSION": ["kt_lib/engine.py::step"]}

    def check():
        return cv.problems(json.loads((tmp_path / cv.LOCK).read_text()), cv.current(tmp_path, code))

    assert cv.main([], tmp_path, code) == 0 and check() == {}
    mod.write_text(mod.read_text().replace('"""Doc."""', '"""Other words."""  # a comment'))
    other.write_text("def unrelated():\n    return 1\n")
    assert check() == {}  # docstrings, comments and code outside the list do not count
    mod.write_text(mod.read_text().replace("x + 1", "x + 2"))
    message = check()["X_VERSION"]
    assert "the code behind X_VERSION changed (kt_lib/engine.py::step): bump X_VERSION" in message
    assert cv.main([], tmp_path, code) == 1 and "--same X_VERSION" in capsys.readouterr().err
    assert cv.main(["--same", "X_VERSION"], tmp_path, code) == 0 and check() == {}
    mod.write_text(
        mod.read_text().replace("x + 2", "x + 3").replace("X_VERSION = 1", "X_VERSION = 2")
    )
    assert "X_VERSION is 2, recorded 1" in check()["X_VERSION"]  # bumped: re-record without --same
    assert cv.main([], tmp_path, code) == 0 and check() == {}


def test_a_version_without_an_entry_or_defined_twice_is_refused(tmp_path):
    (tmp_path / "kt_harness").mkdir()
    (tmp_path / "kt_harness" / "a.py").write_text("class Store:\n    FORMAT = 1\n")
    with pytest.raises(ValueError, match=r"\['Store.FORMAT'\] have no entry"):
        cv.current(tmp_path, {})
    (tmp_path / "kt_harness" / "b.py").write_text("class Store:\n    FORMAT = 3\n")
    with pytest.raises(ValueError, match="Store.FORMAT is defined 2 times"):
        cv.current(tmp_path, {"Store.FORMAT": ["kt_harness/a.py"]})


def test_every_module_the_loop_and_the_scoring_import_is_behind_engine_version():
    """A module the loop (kt_lib.unlearn) or the scoring (evaluator, integrity flags) imports, directly or
    not, decides run rows: a new one outside ENGINE_VERSION's list would change rows unguarded. Left out:
    the presets (a run's key holds its resolved settings), the argument checks and the package's names."""
    sys.path.insert(0, str(ROOT / "tools"))
    from imports import import_graph, sources

    graph, covered = import_graph(sources()), set()
    for key in cv.code_hashes(cv.CODE["ENGINE_VERSION"]):
        if "::" not in key:
            covered.add(key.removesuffix(".py").removesuffix("/__init__").replace("/", "."))
    reached, todo = set(), ["kt_lib.unlearn", "kt_lib.eval.evaluator", "kt_lib.integrity"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += graph[name]
    missing = reached - covered - {"kt_lib", "kt_lib.presets", "kt_lib.ranges"}
    assert not missing, f"add {sorted(missing)} to ENGINE in tools/cache_versions.py"
