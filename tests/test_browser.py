"""The tutorial as a learner sees it: JupyterLab in headless Chromium, Run All on every notebook with an
Explore section (smoke mode), every panel rendered, every control redraws, every cell executed.

Selected with `-m browser`. Needs Debian's `chromium` and `chromium-driver` and the `browser` extra
(selenium); without them the tests skip with the install command, or fail when KT_REQUIRE_BROWSER=1
(CI). Screenshots go to $KT_BROWSER_SHOTS, else to the test's temporary folder (printed).
A self-check runs the same checker with the widgets extension disabled and demands that it fails.
"""

import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from browser_check import check_notebook, explore_cells
from browser_lab import ROOT, Lab, find_browser, start_browser

pytestmark = pytest.mark.browser
TIMEOUT = float(
    os.environ.get("KT_BROWSER_TIMEOUT", 300)
)  # s per Run All (about 25 s on 2 free cores)

NOTEBOOKS = sorted(
    p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb") if explore_cells(p)
)


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


def _tiny_notebook(folder: Path) -> str:
    """A notebook whose Explore panel needs no training: the leaderboard panel over sample runs."""
    setup = (
        "import pandas as pd\n"
        "from kt_lib.notebook import widgets\n"
        "runs = pd.DataFrame([dict(method=m, level=lvl, seed=s, Q=1.0, U=u - 0.1 * s, QU=u - 0.1 * s)\n"
        "    for m, u in (('nhl_kl', 0.9), ('ga', 0.3)) for lvl in ('easy', 'difficult') for s in (0, 1)])"
    )
    panel = "if True:\n    panel = widgets.leaderboard_panel(runs)\n    display(panel.widget)"
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(setup),
            nbformat.v4.new_markdown_cell("## Explore"),
            nbformat.v4.new_code_cell(panel),
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
    assert report["problems"] == []


def test_checker_fails_without_the_widget_extension(browser, lab, shots, tmp_path):
    """The same checker passes a tiny panel notebook with the extension and fails it without."""
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
