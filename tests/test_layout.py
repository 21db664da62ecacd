"""The tree's own account of itself: Python line counts against issue 28's targets (tools/count_lines.py),
and the README's Layout section, generated from the tree (tools/layout.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import count_lines  # noqa: E402
import layout  # noqa: E402

# the targets met today; the others are reported (xfail, with the count) and fail once met: move them here.
# "total" was met until issue 30's audits, sequential requests, efficiency and notebook 09 (2026-12-07)
MET = {"kt_lib"}
BASELINE = "3942934"  # the commit issue 28 counted


@pytest.fixture(scope="module")
def counts():
    return count_lines.count()


@pytest.mark.parametrize("key", sorted(count_lines.TARGETS))
def test_line_count_targets(key, counts, request):
    most = count_lines.TARGETS[key][1]
    if key not in MET:
        reason = f"{key}: {counts[key]:,} lines, target at most {most:,}"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    assert counts[key] <= most, f"{key}: {counts[key]:,} lines, more than {most:,}"


def test_lines_are_counted_as_wc_does(counts):
    files = sorted(str(p) for p in (ROOT / "kt_lib").rglob("*.py"))
    wc = subprocess.run(["wc", "-l", *files], capture_output=True, text=True, check=True).stdout
    assert counts["kt_lib"] == int(wc.splitlines()[-1].split()[0])
    out = subprocess.run(
        [sys.executable, "tools/count_lines.py", "--json"], cwd=ROOT, capture_output=True, text=True
    )
    assert json.loads(out.stdout)["total"] == counts["total"]
    table = subprocess.run([sys.executable, "tools/count_lines.py"], cwd=ROOT, capture_output=True)
    assert f"{counts['notebooks_reach']:,}" in table.stdout.decode()


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells]})


def test_the_notebooks_reach_follows_every_import_from_the_names_they_use(tmp_path):
    root = _tree(
        tmp_path,
        {
            "kt_lib/__init__.py": '_LAZY = {"a": ("kt_lib.a", "f"), "b": ("kt_lib.b", None)}\n',
            "kt_lib/a.py": "def f():\n    from kt_lib.sub import c\n",  # a function-level import
            "kt_lib/b.py": "import kt_lib.d\n",  # a lazy name no notebook uses
            "kt_lib/d.py": "x = 1\n",
            "kt_lib/sub/__init__.py": '"""The package runs too."""\n',
            "kt_lib/sub/c.py": 'import importlib\nimportlib.import_module("kt_lib.sub.e")\n',
            "kt_lib/sub/e.py": "y = 2\nz = 3\n",
            "notebooks/00.ipynb": _notebook(
                "%matplotlib inline\nfrom kt_lib import __version__, a"
            ),
        },
    )
    got = count_lines.count(root)
    reached = ["kt_lib", "kt_lib.a", "kt_lib.sub", "kt_lib.sub.c", "kt_lib.sub.e"]
    assert got["notebooks_reach_modules"] == reached
    assert (got["kt_lib"], got["notebooks_reach"]) == (10, 8)


def test_the_issue_baseline_is_reproduced(tmp_path):
    """At the commit issue 28 counted, the script gives its numbers: kt_lib 12,571 and 13,690 with
    benchmarks and tools (its 8,240 of the notebooks' reach left out three package __init__ files)."""
    have = subprocess.run(["git", "cat-file", "-e", BASELINE], cwd=ROOT, capture_output=True)
    if have.returncode:
        pytest.skip(f"{BASELINE} is not in this clone (shallow)")
    archive = subprocess.run(
        ["git", "archive", BASELINE, "kt_lib", "notebooks", "benchmarks", "tools"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    got = count_lines.count(tmp_path)
    assert (got["kt_lib"], got["total"]) == (12571, 13690)
    assert got["notebooks_reach"] == 8240 + 29 and len(got["notebooks_reach_modules"]) == 54 + 3


def test_readme_layout_section_is_generated_from_the_tree():
    readme = (ROOT / "README.md").read_text()
    assert layout.readme_section(readme) == layout.section(), (
        "README.md's Layout section differs from the tree: run `python tools/layout.py --write`"
    )


def test_the_layout_follows_the_tree(tmp_path):
    root = _tree(
        tmp_path,
        {
            "kt_lib/__init__.py": '"""The library. More."""\n_LAZY = {}\n',
            "kt_lib/new.py": '"""A new module, e.g. this one. Details."""\n',
            "kt_lib/world/__init__.py": '"""The world."""\n',
            "kt_lib/world/config.py": '"""Its config."""\n',
            "notebooks/00.ipynb": _notebook("x = 1"),
        },
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    text = layout.section(root)
    assert "- `kt_lib/`: The library\n  - `new.py`: A new module, e.g. this one\n" in text
    assert "  - `kt_lib/world/`: The world\n    - `config.py`: Its config\n" in text
    (root / "kt_lib" / "bare.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="bare.py has no docstring"):
        layout.section(root)
    (root / "kt_lib" / "bare.py").unlink()
    _tree(root, {"scratch/notes.txt": "x"})
    with pytest.raises(KeyError, match="'scratch'"):
        layout.section(root)
