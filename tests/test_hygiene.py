"""Repository hygiene: environment.yml stays thin, the package data is declared, the CI script is sane."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_is_thin_and_in_sync_with_pyproject():
    text = (ROOT / "environment.yml").read_text()
    body = text.split("dependencies:", 1)[1]
    deps = [line.strip()[2:] for line in body.splitlines() if re.match(r"\s+- ", line)]
    assert deps == ["python=3.11", "pip", "pip:", "-e .[notebooks,dev]"], deps
    assert "conda-forge" in text.split("dependencies:", 1)[0]
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in ("notebooks", "dev"):
        assert re.search(rf"^{extra} = \[", pyproject, re.M), extra


def test_open_clip_pin_and_licence():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"open_clip_torch>=3.3,<4"' in pyproject
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_readme_quick_start_is_two_commands_that_exist_in_the_makefile():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make tutorial", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^tutorial:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_non_python_file_of_the_package_is_declared_package_data():
    """A wheel (non-editable install) must carry the checkpoint, model configs and taxonomies."""
    import fnmatch

    pyproject = (ROOT / "pyproject.toml").read_text()
    globs = re.findall(r'"([^"]+)"', re.search(r"^kt_lib = \[(.*)\]$", pyproject, re.M).group(1))
    pkg = ROOT / "kt_lib"
    data = [
        p.relative_to(pkg).as_posix()
        for p in pkg.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc")
    ]
    assert {"taxonomies/dogworld.json", "taxonomies/imgnetdogs.json"} <= set(data)
    missing = [f for f in data if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert not missing, f"add these to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def test_every_module_is_small():
    """One noun per module, 300 lines at most (split a module that grows past it)."""
    long = {
        p.relative_to(ROOT).as_posix(): n
        for pkg in ("kt_lib", "kt_harness")
        for p in (ROOT / pkg).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 300
    }
    assert not long, f"modules over 300 lines: {long}"


def _kt_imports(source: str):
    """Every absolute `from kt_lib... import name` in `source` (function-level imports included)."""
    import ast

    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith(("kt_lib", "kt_harness"))
        ):
            yield node.module, [a.name for a in node.names if a.name != "*"]


def _code_of(path: Path) -> str:
    if path.suffix == ".py":
        return path.read_text()
    import json

    cells = json.loads(path.read_text())["cells"]
    lines = (
        line
        for c in cells
        if c["cell_type"] == "code"
        for line in "".join(c["source"]).splitlines()
        if not line.lstrip().startswith(("%", "!"))
    )
    return "\n".join(lines)


def test_every_kt_lib_import_resolves():
    """Function-level imports only fail when they run: a renamed helper must break this test, not a
    notebook twenty minutes into CI (it once did: `from kt_lib.experiment import frame`)."""
    import importlib

    files = [*ROOT.glob("kt_*/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")]
    files += sorted((ROOT / "notebooks").glob("*.ipynb"))
    missing = []
    for path in files:
        for module, names in _kt_imports(_code_of(path)):
            mod = importlib.import_module(module)
            for name in names:
                if not hasattr(mod, name) and importlib.util.find_spec(f"{module}.{name}") is None:
                    missing.append(f"{path.relative_to(ROOT)}: {module}.{name}")
    assert len(files) > 50
    assert not missing, missing


def test_readme_quotes_the_recorded_benchmark_runs_verbatim():
    """The README's result tables are copies of recorded runs (each with its command and machine): a rerun
    of a benchmark that changes a number fails here until the README is updated from it."""
    readme = (ROOT / "README.md").read_text()
    for name in ("methods_table.md", "random_requests.md"):
        recorded = (ROOT / "benchmarks" / name).read_text().splitlines()
        quoted = [line for line in recorded if line.startswith(("Produced by", "| ", "Mean "))]
        # the README quotes the random-request shares, not the per-request rows
        quoted = [
            line for line in quoted if not line.startswith("| request") and not line[2:3].isdigit()
        ]
        assert len(quoted) >= 4, name
        missing = [line for line in quoted if line not in readme]
        assert not missing, f"README.md does not quote benchmarks/{name}: {missing[:3]}"


def test_readme_notebook_times_are_the_recorded_tutorial_run():
    """The notebook map's CPU times and totals come from `benchmarks/tutorial_times.json` (one recorded
    `kt tutorial` run from a fresh cache and the run after it), not from memory."""
    import json

    record = json.loads((ROOT / "benchmarks" / "tutorial_times.json").read_text())
    readme = (ROOT / "README.md").read_text()
    total = f"**{round(record['total_seconds'])} s in all**"
    assert total in readme
    at = readme.index(total)  # one recorded run: its paragraph says that another run may differ
    paragraph = readme[readme.rfind("\n\n", 0, at) : readme.find("\n\n", at)]
    assert "Times vary with the machine" in paragraph and "load" in paragraph, paragraph
    assert f"--jobs {record['jobs']}" in paragraph  # how the notebooks shared the machine
    warm = f"the tutorial takes **{round(record['warm']['total_seconds'])} s in all**"
    assert warm in paragraph, paragraph  # the second run, with the cache the first one filled
    rows = re.findall(
        r"^\| \[(\d\d) · [^\]]+\]\(notebooks/([^)]+)\.ipynb\) \|.*\| ([^|]+) \|$", readme, re.M
    )
    assert len([r for r in rows if r[1] in record["notebooks"]]) == len(record["notebooks"]) >= 8, (
        rows
    )
    for _, stem, shown in rows:  # a notebook added after the recorded run says so, with no time
        times = record["notebooks"]
        assert shown.strip() == (f"{round(times[stem])} s" if stem in times else "not recorded"), (
            stem
        )


def test_readme_reading_of_the_methods_table_matches_the_table():
    """The sentences under the README's methods table quote cells of `benchmarks/methods_table.md`."""
    lines = (ROOT / "benchmarks" / "methods_table.md").read_text().splitlines()
    rows = [
        [c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("| ")
    ]
    header, cells = rows[0], {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert "mean Q-U" in header
    readme = (
        (ROOT / "README.md")
        .read_text()
        .split("What this shows:", 1)[1]
        .split("Paper, Table 2", 1)[0]
    )
    quoted = {
        f"mean U {cells['ga']['mean U']}",
        f"mean Q-U {cells['nhl']['mean Q-U']}",
        f"mean Q-U {cells['nhl_kl']['mean Q-U']}",
        f"NPO+KL ({cells['npo_kl']['mean Q-U']})",
        f"({cells['ga_kl']['mean Q-U']})",
        f"{cells['nhl_kl']['mean OOD Q']} on drawings",
    }
    text = " ".join(readme.split())
    assert all(q in text for q in quoted), [q for q in quoted if q not in text]
    ahead = float(cells["nhl_kl"]["mean Q-U"]) > float(cells["npo_kl"]["mean Q-U"])
    assert ("ahead of NPO+KL" in text) == ahead


def test_readme_paper_numbers_are_the_transcribed_table():
    """The paper's Table 2 Q-U values the README quotes are `kt_lib/paper/tables.json`'s (the one source):
    the 'Paper, Table 2' line names each transcribed method with its value, and the prose's "the paper's
    84.7" for GA+KL is that value rounded."""
    import json

    rows = json.loads((ROOT / "kt_lib" / "paper" / "tables.json").read_text())["table2"]["rows"]
    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("Paper, Table 2"))
    label = {"nhl_kl": "NHL+KL", "npo_kl": "NPO+KL", "ga_kl": "GA+KL", "ga": "GA"}
    quoted = dict(re.findall(r"(NHL\+KL|NPO\+KL|GA\+KL|GA) (\d+\.\d\d)", line))
    assert quoted == {label[m]: f"{r['QU']:.2f}" for m, r in rows.items()}, line
    for number in re.findall(r"the paper's (\d+\.\d)", readme):
        assert any(f"{r['QU']:.1f}" == number for r in rows.values()), number
