"""The tutorial notebooks: hygiene (static, fast), papermill runs in smoke mode with checks on what each
notebook recorded, and an nbval-lax run (marker `notebook`).

Every `notebooks/[0-9][0-9]_*.ipynb` is picked up automatically. A notebook's checks live in `CHECKS`
(notebook stem -> function of its `kt_lib.notebook.record.read_results` dict); a notebook without checks must
record at least one value. Checks assert bands and trends, never exact floats (smoke mode evaluates on
10 test images per breed, and CPU/GPU results differ).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from procs import cores

from kt_lib.notebook.record import read_results

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PATTERN = "[0-9][0-9]_*.ipynb"
NUMBERED = sorted(NOTEBOOKS.glob(PATTERN))
TEMPLATE = NOTEBOOKS / "_template.ipynb"
REQUIRED_PARAMETERS = {
    "SMOKE": None,
    "INTERACTIVE": True,
    "DEVICE": "auto",
    "SEED": 0,
    "MODEL": "kt-tiny-dogworld",
    "PRETRAINED": None,
    "DATA_ROOT": None,
}
REQUIRED_HEADINGS = ("## Exercises", "## Explore", "## Summary", "## References")
EXECUTION_TIMEOUT = 900  # seconds per cell; a smoke notebook takes well under a minute in total
JOBS = min(2, os.cpu_count() or 1)  # notebooks run at once (as `kt tutorial` runs them)

EXECUTED: dict[
    str, dict
] = {}  # notebook stem -> {"results": ..., "seconds": ...}, filled by test_notebook_runs


# ---- per-notebook checks on recorded results ---------------------------------------------------------------


def check_00(r: dict) -> None:
    assert r["fine"] >= 0.8, r["fine"]
    assert r["coarse_via_fine"] > r["fine"]
    assert r["fine_ood"] < r["fine"]  # drawings are the harder, out-of-domain test
    assert r["zero_shot_min"] >= 0.9
    assert r["sibling_error_share"] > 0.2  # vs ~6% if errors were random
    assert r["pretrain_steps"] > 0


def check_01(r: dict) -> None:
    assert r["request_forget"] == ["German short-haired pointer"]
    assert r["request_siblings"] == ["vizsla"]
    assert r["request_parents"] == ["pointer", "dog"]
    assert r["request_unrelated_count"] == 54
    assert len(r["group_forget"]) == 6 and "Airedale" in r["group_forget"]
    assert "German short-haired pointer" in r["unknown_name_error"]  # the suggestion
    assert r["before"]["forget_fine"] > 0.5


def check_02(r: dict) -> None:
    assert r["forget_set_size"] == 4 * 30
    assert r["forget_set_labels"]["Samoyed"] == "spitz"
    qu = {int(k): v for k, v in r["qu_by_samples"].items()}
    sizes = sorted(qu)
    assert len(sizes) >= 3
    for fewer, more in zip(sizes, sizes[1:]):
        assert qu[more] >= qu[fewer] - 0.05, qu
    assert qu[sizes[-1]] > 0.85, qu
    assert r["nhl_kl_QU"] > 0.85
    assert set(r["qu_by_level"]) == {"easy", "medium", "difficult"}


def check_03(r: dict) -> None:
    assert r["ga_U"] < 0.3, r["ga_U"]
    assert r["nhl_kl_QU"] > r["ga_kl_QU"] > r["ga_QU"], (r["nhl_kl_QU"], r["ga_kl_QU"], r["ga_QU"])
    assert r["nhl_kl_QU"] > 0.85
    assert r["gdiff_QU"] > r["ga_QU"]
    assert r["ga_Q"] > 0.9  # GA does forget ...
    assert (
        r["ga_zero_shot_utility"] < 0.6 < r["nhl_kl_zero_shot_utility"]
    )  # ... and takes unrelated knowledge along
    assert r["ga_final_loss"] < -10 and r["nhl_kl_final_loss"] >= 0
    trajectory = {int(k): v for k, v in r["ga_trajectory_U"].items()}
    assert (
        trajectory[max(trajectory)] < trajectory[min(trajectory)]
    )  # utility falls as GA trains longer


def check_04(r: dict) -> None:
    # the hand walk-through of unlearn_step: the target falls towards the margin, NHL shrinks, KL starts at 0
    assert r["walk_gap_after"] < r["walk_gap_before"], (r["walk_gap_before"], r["walk_gap_after"])
    assert r["walk_nhl_last"] < r["walk_nhl_first"]
    assert r["walk_kl_first"] == pytest.approx(0.0, abs=1e-6)
    assert r["qu_both"] > r["qu_none"], (
        r["qu_both"],
        r["qu_none"],
    )  # the KL terms are what keeps utility
    assert r["u_alpha_fine_0"] < r["u_both"] and r["u_alpha_coarse_0"] < r["u_both"]
    assert r["u_none"] < min(r["u_alpha_fine_0"], r["u_alpha_coarse_0"])
    assert r["qu_both"] > 0.85
    u = {float(k): v for k, v in r["u_by_margin"].items()}
    q = {float(k): v for k, v in r["q_by_margin"].items()}
    assert u[max(u)] < u[min(u)] and q[max(q)] >= q[min(q)], (
        u,
        q,
    )  # margin = strength: Q up, U down
    assert r["ga_U"] < r["u_both"] - 0.2  # unbounded GA at the same lr
    assert 0 < r["quick_Q"] <= 1


def check_05(r: dict) -> None:
    assert r["gap"] > 0.05, r["gap"]  # forgotten in photos, less in drawings
    assert r["gap"] == pytest.approx(r["photo_Q"] - r["drawing_Q"])
    assert r["photo_Q"] > 0.7
    gaps = {float(k): v for k, v in r["gap_by_lr"].items()}
    assert gaps[max(gaps)] < gaps[min(gaps)], gaps  # a stronger push closes the gap
    assert (
        r["probe_linear_forget_after"] > r["probe_zero_shot_forget_after"] + 0.3
    )  # the image tower still knows
    assert (
        r["drawing_proxy_drawing_Q"] > r["drawing_proxy_photo_Q"]
    )  # drawing exemplars: the gap flips


def check_06(r: dict) -> None:
    board = r["leaderboard"]
    assert {"nhl_kl", "ga"} <= set(board), board
    assert board["nhl_kl"] > board["ga"] + 0.1, board
    assert board["nhl_kl"] > 0.75
    assert {"easy", "difficult"} <= set(r["levels"]) and min(r["levels"].values()) >= 3
    assert set(r["qu_by_level"]["nhl_kl"]) == {k for k in r["levels"]}


def check_07(r: dict) -> None:
    assert r["distance_counts"] == {"0": 4, "1": 13, "2": 39}, r["distance_counts"]
    flags = r["flags_default"]
    assert "utility_collapse" in flags["ga"] and flags["nhl_kl"] == [], (
        flags
    )  # GA says it collapsed
    change = {lab: {int(d): v for d, v in c.items()} for lab, c in r["photo_fine_change"].items()}
    ga, nhl, kl = change["ga"], change["nhl"], change["nhl_kl"]
    assert all(ga[d] < -0.3 for d in (1, 2, 3)), (
        ga
    )  # GA flattens everything, zero-shot families too
    assert kl[1] > ga[1] + 0.3 and kl[1] > nhl[1] + 0.1, (kl, nhl, ga)  # NHL+KL keeps the siblings
    assert kl[3] > -0.15 and kl[3] > ga[3] + 0.3, (kl, ga)  # ... and the unrelated families
    assert r["collapse_share"]["ga"] == 1.0 and r["collapse_share"]["nhl_kl"] == 0.0
    assert "nothing_forgotten" in r["timid_flags"]
    assert any(f.startswith("preset_drift: lr") for f in r["drift_flags"]), r["drift_flags"]


def check_08(r: dict) -> None:
    assert all(q >= 0.75 for q in r["Q"].values()), r["Q"]  # every method forgets in zero-shot
    start, end = r["start"], r["end"]
    assert start["original"] >= 0.5 and all(start[m] <= 0.3 for m in r["Q"]), start
    assert end["original"] >= start["original"] - 0.1
    # the training-free projection erased a direction, not the image tower's knowledge: the attack
    # brings it back and the linear probe still finds it
    assert end["projection"] >= start["projection"] + 0.3, (start, end)
    assert r["linear_probe"]["projection"] >= r["linear_probe"]["original"] - 0.2
    assert all(0 <= v <= 1 for v in r["related_end"].values())


def check_09(r: dict) -> None:
    methods, v = r["methods"], r["verdicts"]
    assert {"nhl_kl", "projection"} <= set(methods), methods
    assert set(r["audits"]) | set(r["skipped"]) == {"mia", "ks", "quant", "invert"}
    assert {"original", *methods} <= set(v), list(v)
    fields = dict(mia=("mia_auc", "mia_verdict"), ks=("ks_D", "ks_p", "ks_n", "ks_passed"),
                  quant=("fp32_forget", "int8_forget", "int4_forget", "int4_U"),
                  invert=("by_name", "by_token"))  # fmt: skip
    for m in methods:
        assert all(v[m][f] is not None for a in r["audits"] for f in fields[a]), (m, v[m])
        assert v[m]["Q"] >= 0.75, v  # every method forgets in zero-shot ...
    for audit in r[
        "skipped"
    ]:  # ... and an audit that could not run says so, with the way to run it
        assert all(v[m][audit] == "not run" for m in v), v
        assert "kt world --retrain --without" in r["skipped"][audit]
    if "quant" in r["audits"]:
        for m in v:
            assert all(0 <= v[m][f"{s}_forget"] <= 1 for s in ("fp32", "int8", "int4")), v[m]
        # the original knows the breed, each method forgot it; int8 rounding barely moves the original
        assert v["original"]["fp32_forget"] >= 0.5 and v["original"][
            "fp32_forget"
        ] == pytest.approx(r["original_forget_fine"])
        assert all(v[m]["fp32_forget"] <= 0.3 for m in methods), v
        assert abs(v["original"]["int8_forget"] - v["original"]["fp32_forget"]) <= 0.15, v[
            "original"
        ]
        # the cell by hand and the library quantize and measure the same model the same way
        assert r["by_hand_int4"]["int4, groups of 64"]["forget_fine"] == pytest.approx(
            v[methods[0]]["int4_forget"]
        )
    if "invert" in r["audits"]:
        assert all(0 <= v[m]["by_token"] <= 1 for m in v) and 0 <= r["by_hand_by_token"] <= 1
    if "mia" in r["audits"]:  # the cell by hand scores the original as the library does
        assert r["by_hand_mia_auc"] == pytest.approx(v["original"]["mia_auc"], abs=1e-6)
        assert "never-learned" in v and 0 <= v["never-learned"]["mia_auc"] <= 1
    if "ks" in r["audits"]:
        ks = r["by_hand_ks"]
        assert (
            ks["n"] == r["members"] == v[methods[0]]["ks_n"]
        )  # n as set: the breed's pretraining photos
        assert (
            ks["D"] == pytest.approx(v[methods[0]]["ks_D"])
            and ks["passed"] == v[methods[0]]["ks_passed"]
        )
        assert all(v[m]["ks_passed"] == (v[m]["ks_p"] > 0.05) for m in methods), v


CHECKS = {
    "00_world_and_model": check_00,
    "01_knowledge_taxonomy": check_01,
    "02_proxy_forgetting_set": check_02,
    "03_gradient_ascent_collapse": check_03,
    # ---- notebooks 04-06: add "NN_name": check_NN entries here ----
    "04_nhl_kl_ablations": check_04,
    "05_ood_failure": check_05,
    "06_leaderboard": check_06,
    "07_collateral_damage": check_07,
    "08_is_it_really_gone": check_08,
    "09_auditors_checklist": check_09,
}


# ---- hygiene (static; no kernel) ----------------------------------------------------------------------------


def _cells(path: Path):
    return nbformat.read(str(path), as_version=4).cells


def _parameter_cells(path: Path):
    return [c for c in _cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]


def _literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_literal(e) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)  # -1, -2.5
    return False


HYGIENE = NUMBERED + ([TEMPLATE] if TEMPLATE.exists() else [])


def test_numbered_notebooks_exist():
    assert len(NUMBERED) >= 4, f"expected at least 4 notebooks matching {PATTERN}, found {NUMBERED}"


@pytest.mark.parametrize("path", HYGIENE, ids=[p.stem for p in HYGIENE])
def test_parameters_cell_is_literal_only(path):
    cells = _parameter_cells(path)
    assert len(cells) == 1, (
        f"{path.name}: {len(cells)} cells tagged 'parameters' (need exactly one)"
    )
    source = cells[0].source
    tree = ast.parse(source)
    values = {}
    for stmt in tree.body:
        assert (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ), (
            f"{path.name}: only `NAME = literal` statements in the parameters cell, got {ast.unparse(stmt)!r}"
        )
        name = stmt.targets[0].id
        assert name.isupper(), f"{path.name}: parameter {name} is not UPPER_CASE"
        assert _literal(stmt.value), (
            f"{path.name}: {name} is not a literal ({ast.unparse(stmt.value)})"
        )
        assert name not in values, f"{path.name}: {name} assigned twice"
        values[name] = ast.literal_eval(stmt.value)
        line = source.splitlines()[stmt.end_lineno - 1]
        assert "#" in line, f"{path.name}: {name} needs a `# unit/range` comment"
    for name, default in REQUIRED_PARAMETERS.items():
        assert name in values, f"{path.name}: parameter {name} is missing"
        assert values[name] == default, (
            f"{path.name}: {name} defaults to {values[name]!r}, expected {default!r}"
        )


@pytest.mark.parametrize("path", HYGIENE, ids=[p.stem for p in HYGIENE])
def test_papermill_infers_every_parameter(path):
    """papermill's own parser (`--help-notebook`) must see every parameter: it gives up on lines with more
    than one '=' (e.g. '>=' in a comment)."""
    import papermill as pm

    inferred = set(pm.inspect_notebook(str(path)))
    assigned = {t.id for s in ast.parse(_parameter_cells(path)[0].source).body for t in s.targets}
    assert inferred == assigned, (
        f"{path.name}: papermill infers {sorted(inferred)}, the cell assigns {sorted(assigned)}"
    )


@pytest.mark.parametrize("path", HYGIENE, ids=[p.stem for p in HYGIENE])
def test_notebook_structure(path):
    nb = nbformat.read(str(path), as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert "widgets" not in nb.metadata, "widget state must be stripped"
    cells = nb.cells
    first = cells[
        next(
            i
            for i, c in enumerate(cells)
            if c.cell_type == "markdown" and c.source.startswith("# ")
        )
    ]
    if path in NUMBERED:
        assert re.match(rf"# {path.name[:2]} · \S", first.source), (
            f"{path.name}: title must be '# {path.name[:2]} · ...'"
        )
    for part in ("**What you will learn**", "**Prerequisites", "**Runtime"):
        assert part in first.source, f"{path.name}: the first markdown cell lacks {part}"
    headings = [
        line
        for c in cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]
    positions = []
    for h in REQUIRED_HEADINGS:
        hits = [i for i, line in enumerate(headings) if line.startswith(h)]
        assert hits, f"{path.name}: no {h!r} heading"
        positions.append(hits[0])
    assert positions == sorted(positions), (
        f"{path.name}: headings must come in the order {REQUIRED_HEADINGS}"
    )
    explore = next(
        i
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and c.source.startswith("## Explore")
    )
    summary = next(
        i
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and c.source.startswith("## Summary")
    )
    widget_cells = [c for c in cells[explore:summary] if c.cell_type == "code"]
    assert widget_cells and all(c.source.startswith("if INTERACTIVE:") for c in widget_cells), (
        f"{path.name}: Explore code cells must be guarded by `if INTERACTIVE:`"
    )
    code = [c for c in cells if c.cell_type == "code"]
    params = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    assert code[params + 1].source.startswith("tut = setup(globals())\n"), (
        f"{path.name}: the cell after the parameters starts with `tut = setup(globals())`"
    )
    for c in code:
        assert not re.search(r"^\s*[!%]\s*pip\b", c.source, re.M), (
            f"{path.name}: no `!pip` / `%pip` cells"
        )
        assert not c.source.lstrip().startswith("%%"), (
            f"{path.name}: no cell magics that wrap execution (%%time, ...)"
        )
        assert "plt.show()" not in c.source


@pytest.mark.parametrize("path", HYGIENE, ids=[p.stem for p in HYGIENE])
def test_notebook_is_stripped(path):
    for c in _cells(path):
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, (
                f"{path.name}: run `nbstripout notebooks/*.ipynb`"
            )


def test_nbstripout_verify():
    proc = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", *map(str, HYGIENE)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (
        f"nbstripout --verify failed; run `.venv/bin/nbstripout notebooks/*.ipynb`\n{proc.stdout}{proc.stderr}"
    )


# ---- what the notebooks import and say ---------------------------------------------------------------------

# Numbers in Markdown that are not results of the notebook's own run, per notebook, with the reason. Any other
# run-like number (a decimal, a percentage, "≈ N", a duration) in a Markdown cell fails the test: prose numbers
# from the run are rendered from it (`display(Markdown(f"..."))`), so they cannot go stale.
NOT_RUN_RESULTS = {
    "00": {"6%": "chance share of sibling errors, from the group sizes (a taxonomy constant)"},
    "01": {"3.0": "the WordNet version"},
    "02": {"30%": "difficulty_levels' accuracy threshold (a constant)"},
    "04": {"0.5": "the margin at which the hinge plot's curves are drawn (a parameter)"},
    "05": {"≈ 42": "the paper's OOD Q on Oxford-IIIT Pet"},
    "07": {"95%": "the confidence level"},
    "09": {"0.05": "TOFU's passing threshold for the KS p-value (a constant)"},
    "06": {
        "95%": "the confidence level",
        "0.3": "difficulty_levels' accuracy threshold (a constant)",
    },
}
RUN_LIKE = re.compile(
    r"≈\s*\d+(?:\.\d+)?|(?<![\w.\-/])\d+\.\d+%?|(?<![\w.])\d+(?:\.\d+)?\s*%"
    r"|\b\d+(?:\.\d+)?\s*(?:s|min|minutes|seconds|h|hours)\b"
)


def run_like_numbers(markdown: str) -> list[str]:
    """Run-like numbers of a Markdown cell, outside inline code (parameters) and arXiv identifiers."""
    text = re.sub(r"`[^`]*`", "", markdown)
    text = re.sub(r"\b\d{4}\.\d{4,5}\b", "", text)
    return RUN_LIKE.findall(text)


def test_run_like_number_finder_catches_stale_prose():
    found = run_like_numbers(
        "about 42% of errors, Q ≈ 0.54, U 0.88, 4 min; `MARGIN = 5.0`, arXiv 2506.11253"
    )
    assert found == ["42%", "≈ 0.54", "0.88", "4 min"]


@pytest.mark.parametrize("path", NUMBERED, ids=[p.stem for p in NUMBERED])
def test_markdown_quotes_no_run_results(path):
    allowed = NOT_RUN_RESULTS.get(path.name[:2], {})
    stale = [
        (i, n)
        for i, c in enumerate(_cells(path))
        if c.cell_type == "markdown"
        for n in run_like_numbers(c.source)
        if n not in allowed
    ]
    assert not stale, (
        f"{path.name}: Markdown cells quote run-like numbers {stale} (cell index, number). Render numbers "
        "from the run in a code cell (display(Markdown(f'...'))), or, for a constant or the literature, add "
        "it with its reason to NOT_RUN_RESULTS"
    )


def _kt_imports(path: Path) -> list[str]:
    """Every `kt_lib` import of a notebook's code cells, as 'module:name'."""
    out = []
    for c in _cells(path):
        if c.cell_type != "code":
            continue
        source = "\n".join(
            line for line in c.source.splitlines() if not line.lstrip().startswith("%")
        )
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kt_lib"):
                out += [f"{node.module}:{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                out += [f"{a.name}:" for a in node.names if a.name.startswith("kt_lib")]
    return out


@pytest.mark.parametrize("path", HYGIENE, ids=[p.stem for p in HYGIENE])
def test_notebooks_import_only_the_learner_api(path):
    import kt_lib

    assert len(kt_lib.__all__) <= 27, kt_lib.__all__  # 26th: recovery (issue 22), 27th: audits (30)
    imports = _kt_imports(path)
    assert imports, f"{path.name}: imports nothing from kt_lib"
    bad = [i for i in imports if not i.startswith("kt_lib:") or i[7:] not in kt_lib.__all__]
    assert not bad, f"{path.name}: import only kt_lib's names (`from kt_lib import ...`), not {bad}"


def test_the_real_clip_note_lives_in_notebook_00_only():
    with_note = [
        p.stem
        for p in HYGIENE
        if any(
            "Switching to a real CLIP" in c.source for c in _cells(p) if c.cell_type == "markdown"
        )
    ]
    assert with_note == ["00_world_and_model"], with_note


MAX_CELL_LINES = 15


@pytest.mark.parametrize("path", NUMBERED, ids=[p.stem for p in NUMBERED])
def test_lessons_without_scaffolding(path):
    """Code cells of at most MAX_CELL_LINES lines (the parameters cell aside): takeaways and tables come
    from kt_lib's helpers, not from cells of if/else; what the tests read is recorded in one cell."""
    long = [
        (i, len(c.source.splitlines()))
        for i, c in enumerate(_cells(path))
        if c.cell_type == "code"
        and "parameters" not in c.metadata.get("tags", [])
        and len(c.source.splitlines()) > MAX_CELL_LINES
    ]
    assert not long, f"{path.name}: code cells (index, lines) over {MAX_CELL_LINES} lines: {long}"
    records = [i for i, c in enumerate(_cells(path)) if re.search(r"^record\(", c.source, re.M)]
    assert len(records) == 1, f"{path.name}: record(...) in cells {records}, expected one cell"


@pytest.mark.parametrize(
    "stem, loop",
    [
        ("06_leaderboard", "leaderboard.leaderboard"),
        ("07_collateral_damage", "leaderboard.run_profiles"),
        ("08_is_it_really_gone", "recovery.relearn"),
    ],
)
def test_notebooks_show_the_loop_they_run(stem, loop):
    """06-08 print the loop behind their library call (as 04 prints the step), before the call."""
    code = [c.source for c in _cells(NOTEBOOKS / f"{stem}.ipynb") if c.cell_type == "code"]
    shown = [i for i, c in enumerate(code) if f"inspect.getsource({loop})" in c]
    called = [
        i
        for i, c in enumerate(code)
        if re.search(r"\b(leaderboard\.leaderboard|run_profiles|recovery\.curves)\(", c)
    ]
    assert shown and called and shown[0] < called[0], (stem, shown, called)


def test_notebook_04_shows_and_calls_the_step():
    """The subject in cells: the library's own loss terms and step printed, and `unlearn_step` called."""
    code = "\n".join(
        c.source for c in _cells(NOTEBOOKS / "04_nhl_kl_ablations.ipynb") if c.cell_type == "code"
    )
    assert "inspect.getsource" in code
    assert "(losses.nhl, losses.kl_fine_nontarget, unlearn_step)" in code
    assert "unlearn_step(" in code.replace(
        "(losses.nhl, losses.kl_fine_nontarget, unlearn_step)", ""
    )


# ---- the parameters check and the run flags' notebook mode (no kernel) -------------------------------------

DEFAULTS = 'SMOKE = None  # x\nSEED = 0  # x\nSEEDS = [0]  # x\nLR = None  # x\nMETHODS = "all"  # x\nALPHA = 10.0  # x\n'


def _history(injected: str) -> list[str]:
    """IPython's `In` under papermill: the imports, the parameters cell, papermill's `# Parameters` cell."""
    return ["", "import pandas as pd", DEFAULTS, "# Parameters\nSMOKE = True\n" + injected]


@pytest.mark.unit
def test_a_parameter_of_the_wrong_type_fails_in_one_line():
    from kt_lib.notebook.setup import check_parameters

    with pytest.raises(TypeError) as err:
        check_parameters(_history('SEEDS = "[0, 1]"\n'))  # papermill -p SEEDS "[0, 1]"
    assert str(err.value) == (
        "parameter SEEDS expects a list of int (its default is [0]), got '[0, 1]', a str"
    )
    check_parameters(_history('SEEDS = [0, 1]\nLR = 1e-3\nMETHODS = ["ga"]\nALPHA = 5\n'))
    for bad, kind in [
        ("SEED = 1.5", "int"),
        ("SEED = True", "int"),
        ("SEEDS = [0.5]", "a list of int"),
        ('ALPHA = "5"', "a number"),
        ("METHODS = 3", "str"),
        ("SMOKE = True\nSEED = None", "int"),
    ]:
        name = bad.split()[-3]
        with pytest.raises(TypeError, match=rf"^parameter {name} expects {kind} \("):
            check_parameters(_history(bad + "\n"))
    check_parameters(["SEED = 0  # x", "SEED = '0'"])  # no papermill cell: nothing to compare


@pytest.mark.unit
def test_run_flags_show_as_one_line_per_cell_in_a_notebook(capsys):
    import warnings

    from kt_lib.integrity import RunIntegrityWarning, flags_in_cells

    class Shell:  # the part of IPython's shell flags_in_cells uses
        hooks: list = []
        events = property(lambda self: self)

        def register(self, event, hook):
            self.hooks.append((event, hook))

    shell, passed = Shell(), []
    with warnings.catch_warnings():  # restores showwarning and the filters
        warnings.showwarning = lambda message, category, *args, **kw: passed.append(category)
        assert flags_in_cells(shell) and flags_in_cells(shell)  # twice: one hook
        for label, flags in [("ga", "utility_collapse: U 0.05 < 0.50")] * 2 + [
            ("gdiff", "utility_collapse: U 0.10 < 0.50; nothing_forgotten: Q 0.10 < 0.25")
        ]:
            warnings.warn(f"{label} run flagged: {flags}", RunIntegrityWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        [(event, hook)] = shell.hooks
        hook(None)  # the cell ends
        hook(None)  # the next cell flagged nothing: no line
    out = capsys.readouterr().out
    assert event == "post_run_cell" and passed == [UserWarning]  # other warnings stay warnings
    assert out == (
        "3 run(s) flagged: ga utility_collapse ×2; gdiff utility_collapse + nothing_forgotten ×1 "
        "(each row's `flags` says why)\n"
    )
    assert not flags_in_cells(None)  # outside IPython: warnings stay warnings


# ---- execution (papermill, smoke mode) ----------------------------------------------------------------------


# stderr an executed notebook may show (pattern -> why); any other stderr output fails its run: warnings with
# package paths, progress bars and log lines are scaffolding a learner should not have to read
ALLOWED_STDERR: dict[str, str] = {}


def stray_stderr(nb) -> list[tuple[int, str]]:
    """(cell index, text) of each stderr output of an executed notebook that ALLOWED_STDERR does not allow."""
    return [
        (i, o["text"])
        for i, c in enumerate(nb.cells)
        for o in c.get("outputs", [])
        if o.get("name") == "stderr" and not any(re.search(p, o["text"]) for p in ALLOWED_STDERR)
    ]


@pytest.mark.unit
def test_stray_stderr_finds_warning_blocks():
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    cell = new_code_cell("runs = leaderboard.leaderboard(...)")
    cell.outputs = [
        new_output("stream", name="stdout", text="2 run(s) flagged: ga utility_collapse ×2\n"),
        new_output(
            "stream", name="stderr", text="/x/experiment.py:244: RunIntegrityWarning: ...\n"
        ),
    ]
    assert stray_stderr(new_notebook(cells=[new_code_cell("1"), cell])) == [
        (1, "/x/experiment.py:244: RunIntegrityWarning: ...\n")
    ]


@pytest.mark.notebook
def test_python3_kernel_runs_this_environment():
    """papermill and nbval start the kernel named `python3`; it must run this interpreter (with kt_lib)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    fix = f"run: {sys.executable} -m ipykernel install --sys-prefix --name python3"
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.fail(f"no Jupyter kernel named python3; {fix}")
    exe = spec.argv[0]
    # jupyter_client substitutes sys.executable for a bare "python"
    assert (
        exe in ("python", "python3")
        or Path(exe).resolve().parent == Path(sys.executable).resolve().parent
        or Path(exe).parent == Path(sys.executable).parent
    ), f"kernel python3 runs {exe}, not {sys.executable}; {fix}"


@pytest.fixture(scope="module")
def smoke_runs(request, tmp_path_factory) -> dict[str, dict]:
    """The selected notebooks' smoke runs, two at a time with each kernel on one thread: the same papermill
    call and lanes as `kt tutorial` (kt_harness.cli.tutorial). Each notebook's own error is kept for its test.

    INTERACTIVE=False: nbclient (under papermill) now and then never returns from a cell that builds
    ipywidgets (jupyter/nbclient#312, open); the widgets are built headless by test_nbval_lax instead."""
    from kt_harness.cli.tutorial import execute, kernel_threads, longest_first

    wanted = {
        item.callspec.id
        for item in request.session.items
        if item.originalname == "test_notebook_runs"
    }
    notebooks = longest_first([p for p in NUMBERED if p.stem in wanted])
    out = tmp_path_factory.mktemp("smoke_runs")

    def one(path: Path) -> dict:
        start = time.perf_counter()
        try:
            execute(path, out / path.name, smoke=True, cell_timeout=EXECUTION_TIMEOUT)
            error = None
        except Exception as e:  # noqa: BLE001 -- raised again by this notebook's own test
            error = e
        return dict(out=out / path.name, seconds=time.perf_counter() - start, error=error)

    # alone: the JOBS kernels, one thread each, have the cores to themselves (beside the other worker's test,
    # three processes on two cores: 226 s for this fixture in a CI run where it took 107 s without xdist)
    with cores(alone=True), kernel_threads(JOBS), ThreadPoolExecutor(max_workers=JOBS) as pool:
        return dict(zip([p.stem for p in notebooks], pool.map(one, notebooks)))


@pytest.mark.notebook
@pytest.mark.parametrize("path", NUMBERED, ids=[p.stem for p in NUMBERED])
def test_notebook_runs(path, smoke_runs):
    run = smoke_runs[path.stem]
    if run["error"] is not None:
        raise run["error"]
    out, seconds = run["out"], run["seconds"]
    stray = stray_stderr(nbformat.read(str(out), as_version=4))
    assert not stray, f"{path.name}: stderr outside ALLOWED_STDERR (cell, text): {stray[:3]}"
    results = read_results(out)
    EXECUTED[path.stem] = dict(results=results, seconds=seconds)
    print(f"{path.name}: {seconds:.1f} s, recorded {sorted(results)}")
    check = CHECKS.get(path.stem)
    if check is None:
        assert results, (
            f"{path.name} recorded nothing; call kt_lib.notebook.record(...) for the numbers it shows"
        )
    else:
        check(results)


@pytest.mark.notebook
def test_every_notebook_was_executed(request):
    """Guard against a green-but-empty run: every numbered notebook ran (when all of them were selected)."""
    selected = [i for i in request.session.items if i.originalname == "test_notebook_runs"]
    if len(selected) < len(NUMBERED):
        pytest.skip(f"only {len(selected)} of {len(NUMBERED)} notebook runs were selected")
    expected = sorted(NOTEBOOKS.glob(PATTERN))
    assert len(expected) >= 4
    assert sorted(EXECUTED) == [p.stem for p in expected], f"executed {sorted(EXECUTED)}"
    total = sum(e["seconds"] for e in EXECUTED.values())
    print(
        "smoke timings: "
        + ", ".join(f"{k} {e['seconds']:.0f} s" for k, e in EXECUTED.items())
        + f"; total {total:.0f} s"
    )


@pytest.mark.notebook
@pytest.mark.alone  # JOBS kernels on one thread each, as the smoke runs
def test_nbval_lax():
    """`pytest --nbval-lax` over notebooks/ with KT_SMOKE=1: nbval cannot inject parameters, so smoke mode comes
    from the environment and INTERACTIVE keeps its default (True): the Explore widgets must build headless, and
    unlike papermill nbval fails on an error inside a widget callback. The notebooks are dealt, longest first,
    to JOBS nbval processes that run at once, each kernel on cores / JOBS threads."""
    from kt_harness.cli.tutorial import kernel_threads, longest_first

    order = longest_first(NUMBERED)
    lanes = [order[k::JOBS] for k in range(JOBS)]  # round robin over the longest-first order
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval-lax",
        "-p",
        "no:python",
        "-p",
        "no:cacheprovider",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(ROOT / "tests" / "nbval_sanitize.cfg"),
        "--nbval-cell-timeout",
        str(EXECUTION_TIMEOUT),
        "-v",
    ]
    start = time.perf_counter()
    with kernel_threads(JOBS):
        env = dict(os.environ, KT_SMOKE="1")
        procs = [
            subprocess.Popen(
                cmd + [str(p.relative_to(ROOT)) for p in lane],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for lane in lanes
            if lane
        ]
        outputs = [proc.communicate()[0] for proc in procs]
    cells = []
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-6000:]
        # node ids look like "notebooks/00_x.ipynb::Cell 3" (or "notebooks/00_x::ipynb::Cell 3", pytest 9)
        cells += re.findall(
            r"^notebooks/([^\s:]+?)(?:\.ipynb)?(?:::ipynb)?::Cell \d+ PASSED", output, re.M
        )
    assert len(cells) > 0, outputs[0][-6000:]
    assert set(cells) == {p.stem for p in NUMBERED}, f"nbval ran cells of {sorted(set(cells))}"
    print(
        f"nbval-lax: {len(cells)} cells of {len(set(cells))} notebooks passed in "
        f"{time.perf_counter() - start:.0f} s ({len(procs)} processes at once)"
    )
