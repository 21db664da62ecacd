"""The tutorial as a learner sees it: JupyterLab in headless Chromium, Run All on every notebook with an
Explore panel (smoke mode), every panel rendered, every control redraws, every cell executed. By default
the notebooks whose Explore section builds a kt_lib.notebook.widgets panel (04-06); KT_BROWSER_NOTEBOOKS=all
adds the others.

Selected with `-m browser`. Needs Debian's `chromium` and `chromium-driver` and the `browser` extra
(selenium); without them the tests skip with the install command, or fail when KT_REQUIRE_BROWSER=1
(CI). Screenshots go to $KT_BROWSER_SHOTS, else to the test's temporary folder (printed).
A self-check runs the same checker with the widgets extension disabled and demands that it fails.
"""

import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from browser_check import check_notebook, explore_cells
from browser_lab import ROOT, Lab, find_browser, start_browser

pytestmark = pytest.mark.browser
# seconds allowed for one notebook's Run All (raise it on a machine shared with other work)
TIMEOUT = float(os.environ.get("KT_BROWSER_TIMEOUT", 300))


def _panel_notebooks(every: bool) -> list[str]:
    """Notebooks with an Explore section; by default those whose Explore builds a kt_lib.notebook.widgets
    panel (04-06), every one with KT_BROWSER_NOTEBOOKS=all."""
    out = []
    for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = nbformat.read(p, as_version=4).cells
        explore = [cells[i].source for i in explore_cells(p)]
        if explore and (every or any("widgets." in src for src in explore)):
            out.append(p.name)
    return out


NOTEBOOKS = _panel_notebooks(os.environ.get("KT_BROWSER_NOTEBOOKS") == "all")


@pytest.fixture(scope="module")
def browser():
    chromium, driver, why = find_browser()
    if why:
        if os.environ.get("KT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"KT_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    driver = start_browser(chromium, driver)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    where = os.environ.get("KT_BROWSER_SHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("browser-shots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"browser screenshots in {path}")
    return path


_SETUP = """\
import time

import pandas as pd
from kt_lib.notebook import widgets


def row(method="nhl_kl", margin=2.0, ac=10.0, af=20.0, lr=2e-4, q=1.0, u=0.9, dq=0.6, epochs=8):
    per = [dict(concept=c, group="g", domain=d, before=0.8, after=a + (0.3 if d == "drawing" else 0))
           for c, a in (("Samoyed", 0.0), ("beagle", 0.1)) for d in ("photo", "drawing")]
    return dict(label=method, method=method, margin=margin, alpha_coarse=ac, alpha_fine=af, lr=lr,
                num_epochs=epochs, seed=0, Q=q, U=u, QU=2 * q * u / (q + u), drawing_Q=dq, per_concept=per)


trained = set()


def live_run(method, margin, alpha_coarse, alpha_fine):
    key = (method, margin, alpha_coarse, alpha_fine)
    if key not in trained:
        time.sleep(1)  # a run being trained
        trained.add(key)
    return row(method, margin, alpha_coarse, alpha_fine, q=1 - margin / 10, u=0.9 - alpha_fine / 100)


def live_strength(method, lr):
    if (method, lr) not in trained:
        time.sleep(1)  # a run being trained
        trained.add((method, lr))
    return row(method, lr=lr, dq=0.3 + lr * 1000, u=0.9 - lr * 1000)


runs = pd.DataFrame([dict(method=m, level=lvl, seed=s, Q=1.0, U=u - 0.1 * s, QU=u - 0.1 * s)
                     for m, u in (("nhl_kl", 0.9), ("ga", 0.3)) for lvl in ("easy", "difficult") for s in (0, 1)])
"""
_PANELS = [
    "panel = widgets.ablation_panel(live_run, ['nhl_kl', 'ga'], ['Samoyed', 'beagle'], "
    "dict(method='nhl_kl', margin=2.0, alpha_coarse=10.0, alpha_fine=20.0), "
    "is_cached=lambda **s: tuple(s.values()) in trained)",
    "panel = widgets.ood_panel(live_strength, ['nhl_kl', 'ga'], widgets.strength_grid(2e-4), "
    "dict(method='nhl_kl', lr=2e-4), is_cached=lambda **s: tuple(s.values()) in trained)",
    "panel = widgets.leaderboard_panel(runs, paper={'nhl_kl': 95.2}, paper_label='paper')",
]


def _tiny_notebook(folder: Path) -> str:
    """A notebook with the three panels of kt_lib.notebook.widgets over sample rows (no training)."""
    explore = [
        nbformat.v4.new_code_cell(f"if True:\n    {p}\n    display(panel.widget)") for p in _PANELS
    ]
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(_SETUP),
            nbformat.v4.new_markdown_cell("## Explore"),
            *explore,
        ],
        metadata=nbformat.read(ROOT / "notebooks" / NOTEBOOKS[0], as_version=4).metadata,
    )
    nbformat.write(nb, folder / "tiny_panel.ipynb")
    return "tiny_panel.ipynb"


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(ROOT / "notebooks", root)
    _tiny_notebook(root)
    server = Lab(root)
    yield server
    server.stop()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_every_control_redraws(name, browser, lab, shots):
    report = check_notebook(browser, lab, name, shots, timeout=TIMEOUT)
    print(f"{name}: Run All {report['seconds_run']:.0f} s, whole check {report['seconds']:.0f} s")
    for r in report["redraws"]:  # the time from a control's change to the new figure
        print(f"  {r['control']}: redrawn in {r['seconds']:.2f} s")
    (shots / f"{Path(name).stem}-redraws.json").write_text(json.dumps(report["redraws"], indent=1))
    assert report["problems"] == []


def test_checker_fails_without_the_widget_extension(browser, lab, shots, tmp_path):
    """The same checker passes a notebook of the three panels over sample rows with the extension (every
    control of every panel) and fails it without."""
    t0 = time.monotonic()
    good = check_notebook(browser, lab, "tiny_panel.ipynb", shots)
    assert good["problems"] == []
    root = tmp_path / "off"
    root.mkdir()
    _tiny_notebook(root)
    off = Lab(root, widgets=False)
    try:
        bad = check_notebook(browser, off, "tiny_panel.ipynb", shots, timeout=120)
    finally:
        off.stop()
    print(f"self-check {time.monotonic() - t0:.0f} s: {bad['problems']}")
    assert any("no widget rendered" in p or "VBox(children" in p for p in bad["problems"])
