"""What a learner sees in JupyterLab, checked through the DOM: Run All a notebook, look for error output
and broken widgets, move every Explore control and demand a redraw, save and read the file back."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from browser_lab import Lab

WIDGET_FAILURES = ("Error displaying widget", "Loading widget...", "VBox(children", "HBox(children")


def expected_warning(text: str) -> bool:
    """True for stderr that holds only kt_lib's run-integrity warnings: the notebooks run GA on purpose, and a
    collapsed run saying so on the console is the lesson, not an error."""
    lines = [line for line in text.splitlines() if line.strip()]
    heads = [
        line for line in lines if not line.startswith(" ")
    ]  # warnings also print their source line
    return bool(heads) and all("RunIntegrityWarning:" in line for line in heads)


def explore_cells(path: Path) -> list[int]:
    """Indices (among all cells) of the code cells between '## Explore' and the next heading."""
    cells = nbformat.read(path, as_version=4).cells
    start = next(
        (
            i
            for i, c in enumerate(cells)
            if c.cell_type == "markdown" and c.source.startswith("## Explore")
        ),
        None,
    )
    if start is None:
        return []
    out = []
    for i in range(start + 1, len(cells)):
        if cells[i].cell_type == "markdown" and cells[i].source.lstrip().startswith("#"):
            break
        if cells[i].cell_type == "code":
            out.append(i)
    return out


def _wait(cond, timeout: float, poll: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(poll)
    return None


_SIGNATURE = """
const outs = arguments[0].querySelectorAll('.widget-output');
let s = '';
for (const o of outs) {
  s += o.innerText;
  for (const img of o.querySelectorAll('img')) s += '|' + img.src.length + ':' + img.src.slice(-400);
}
return s;
"""
_LABEL = "const w = arguments[0].closest('.widget-inline-hbox, .widget-button'); return w ? w.innerText : '';"
_SIZES = """
return [...arguments[0].querySelectorAll('.widget-output img')].map(
  i => [i.getBoundingClientRect().width, i.closest('.jp-OutputArea').getBoundingClientRect().width]);
"""


def _menu(driver, bar: str, item: str) -> None:
    from selenium.webdriver.common.by import By

    for el in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel"):
        if el.text.strip() == bar:
            el.click()
            break
    target = _wait(
        lambda: [
            e
            for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")
            if e.text.strip() == item
        ],
        10,
    )
    if not target:
        raise RuntimeError(f"menu {bar} > {item} not found")
    target[0].click()


def _move(driver, control):
    """Change one control as a learner would (next dropdown option, slider arrow key, button click) and
    return how to put it back (None for a button)."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    if control.tag_name == "select":
        sel = Select(control)
        current = [o.get_attribute("value") for o in sel.options].index(
            sel.first_selected_option.get_attribute("value")
        )
        sel.select_by_index((current + 1) % len(sel.options))
        return lambda: sel.select_by_index(current)
    if control.tag_name == "button":
        control.click()
        return None
    # a slider handle: right arrow, or left at the right end
    readout = control.find_element("xpath", "ancestor::div[contains(@class,'widget-slider')]")
    before = readout.text
    driver.execute_script("arguments[0].focus();", control)
    control.send_keys(Keys.ARROW_RIGHT)
    if _wait(lambda: readout.text != before, 2):
        return lambda: control.send_keys(Keys.ARROW_LEFT)
    control.send_keys(Keys.ARROW_LEFT)
    return lambda: control.send_keys(Keys.ARROW_RIGHT)


def check_notebook(driver, lab: Lab, name: str, shots: Path, timeout: float = 240.0) -> dict:
    """Open `name`, Run All, move each Explore control, save; returns problems found and timings."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    path, stem, problems, t0 = lab.root / name, Path(name).stem, [], time.monotonic()
    explore = explore_cells(path)
    # a workspace of its own: only this notebook is open, whatever ran before in the same server
    driver.get(f"{lab.url}/lab/workspaces/{stem.replace('_', '-')}/tree/{name}?token={lab.token}")
    css = driver.find_elements
    if not _wait(lambda: css(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"), 60):
        return dict(problems=[f"{name}: the notebook did not open"], seconds=time.monotonic() - t0)

    def prompts():
        return [
            e.text.strip()
            for e in css(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell .jp-InputPrompt")
        ]

    for _attempt in range(3):  # Run All once the kernel is up; again if the click came too early
        for accept in css(By.CSS_SELECTOR, ".jp-Dialog .jp-mod-accept"):
            accept.click()  # a kernel chooser: take its pick
        if not _wait(lambda: lab.kernel_state(name) == "idle", 90, 1.0):
            problems.append(f"{name}: no idle kernel after 90 s")
            break
        _menu(driver, "Run", "Run All Cells")
        if _wait(lambda: any(p not in ("[ ]:", "") for p in prompts()), 20, 0.5):
            break

    def finished():
        shown = prompts()
        return shown and all(p[:1] == "[" and p[1:2].isdigit() for p in shown)

    done = _wait(finished, timeout, 1.0)
    seconds_run = time.monotonic() - t0
    if not done:
        problems.append(f"{name}: Run All did not finish in {timeout:.0f} s (prompts {prompts()})")
    for e in css(
        By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ):
        if not expected_warning(e.text):
            problems.append(f"{name}: error output: {e.text[:300]!r}")
    cells = css(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")
    redraws = []
    for k, index in enumerate(explore):
        cell = cells[index]
        out = cell.find_element(By.CSS_SELECTOR, ".jp-Cell-outputWrapper")
        text = out.text
        for bad in WIDGET_FAILURES:
            if bad in text:
                problems.append(f"{name}: the Explore panel shows {bad!r}")
        if not cell.find_elements(By.CSS_SELECTOR, ".jupyter-widgets"):
            problems.append(f"{name}: no widget rendered in the Explore cell")
            continue
        for width, area in driver.execute_script(_SIZES, cell):
            if width < 0.6 * area:
                problems.append(f"{name}: a {width:.0f} px figure in a {area:.0f} px panel")
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", cell)
        out.screenshot(str(shots / f"{stem}-{k}-start.png"))
        controls = cell.find_elements(
            By.CSS_SELECTOR,
            ".widget-dropdown select, .widget-slider .noUi-handle, button.widget-button",
        )
        for j, control in enumerate(controls):
            label = driver.execute_script(_LABEL, control).strip().split("\n")[0] or control.text
            before = driver.execute_script(_SIGNATURE, cell)
            moved = time.monotonic()
            undo = _move(driver, control)

            def changed(before=before, cell=cell):
                now = driver.execute_script(_SIGNATURE, cell)
                return now != before and "running" not in now and now

            if not _wait(changed, 60, 0.25):
                problems.append(f"{name}: moving {label!r} did not change what is drawn")
            else:  # from the change to the new figure (polled every 0.25 s)
                redraws.append(dict(control=label, seconds=round(time.monotonic() - moved, 2)))
            out.screenshot(str(shots / f"{stem}-{k}-{j}.png"))
            if undo:  # each control is tried from the panel's defaults
                undo()
                _wait(
                    lambda cell=cell, before=before: (
                        driver.execute_script(_SIGNATURE, cell) == before
                    ),
                    30,
                    0.5,
                )
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()

    def saved():
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        return nb if all(c.execution_count is not None for c in code) else None

    nb = _wait(saved, 30, 1.0)
    if nb is None:
        problems.append(f"{name}: the saved notebook has code cells that did not run")
    else:
        for c in nb.cells:
            for o in c.get("outputs", []):
                if o.output_type == "error":
                    problems.append(f"{name}: saved error {o.ename}: {o.evalue}"[:300])
    driver.save_screenshot(str(shots / f"{stem}-page.png"))
    lab.close(name)
    return dict(
        problems=problems, seconds_run=seconds_run, seconds=time.monotonic() - t0, redraws=redraws
    )
