"""kt_lib.notebook.report: an executed notebook renders to HTML and the index links it with its results."""

import json
import os
from pathlib import Path

import nbformat

from kt_lib.notebook.record import read_results
from kt_lib.notebook.report import render_html, write_index


def test_index_links_each_rendered_notebook_with_its_time_and_results(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# 99 · a title"),
            nbformat.v4.new_code_cell(
                "print('hello')",
                execution_count=1,
                outputs=[nbformat.v4.new_output("stream", name="stdout", text="hello\n")],
            ),
        ]
    )
    nbformat.write(nb, tmp_path / "99_demo.ipynb")
    page = render_html(tmp_path / "99_demo.ipynb")
    assert page.name == "99_demo.html" and "hello" in page.read_text()
    (tmp_path / "world.json").write_text(json.dumps({"fine": 0.91, "checkpoint": "abc"}))
    summary = [
        dict(
            notebook="99_demo.ipynb",
            seconds=12.34,
            results={"QU": 0.9512, "by": {"a": 1}},
            html=page.name,
        ),
        dict(notebook="98_<odd>.ipynb", seconds=1.0, results={}),
    ]
    index = write_index(tmp_path, summary).read_text()
    assert "href='99_demo.html'" in index and "12.3 s" in index
    assert "0.951" in index and "a: 1" in index and "nothing recorded" in index
    assert "98_&lt;odd&gt;.ipynb" in index  # names are escaped
    assert "2 notebooks executed in 13 s" in index and "0.91" in index
    assert "1 notebook executed" in write_index(tmp_path, summary[:1]).read_text()


def _figure_notebook(path):
    """A notebook that draws one titled matplotlib figure under a section heading, as the tutorial's do."""
    cells = [
        nbformat.v4.new_code_cell(
            "SMOKE = None\nINTERACTIVE = True", metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell(
            "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
            "from kt_lib.notebook.style import alt_text_on_figures\nalt_text_on_figures()"
        ),
        nbformat.v4.new_markdown_cell("## 1 · A line"),
        nbformat.v4.new_code_cell(
            "fig, ax = plt.subplots()\nax.plot([0, 1])\nfig.suptitle('a rising line')"
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(name="python3", display_name="Python 3", language="python")
    nbformat.write(nb, path)
    return path


def test_tutorial_run_prints_no_kernel_or_alt_text_noise_and_figures_have_alt_text(
    tmp_path, capfd, caplog
):
    """`kt tutorial` executes and renders notebooks without the kernel's 'running over TCP without
    encryption' and nbconvert's 'Alternative text is missing' (issue 20); a plain papermill run and a
    plain nbconvert export, the control, print both."""
    import re

    import papermill as pm
    from nbconvert import HTMLExporter

    from kt_harness.cli.tutorial import execute

    source = _figure_notebook(tmp_path / "98_figure.ipynb")
    target = tmp_path / "out" / "98_figure.ipynb"
    target.parent.mkdir()
    capfd.readouterr()
    execute(source, target, smoke=True)
    page = render_html(target).read_text()
    shown = "".join(capfd.readouterr()) + caplog.text  # the kernel's stderr; nbconvert's log
    assert "without encryption" not in shown and "Alternative text" not in shown, shown
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', page)
    assert alts == ["figure 1 of 98_figure, section '1 · A line': a rising line"], alts

    pm.execute_notebook(str(source), str(tmp_path / "plain.ipynb"), kernel_name="python3")
    HTMLExporter(template_name="lab").from_notebook_node(nbformat.read(tmp_path / "plain.ipynb", 4))
    shown = "".join(capfd.readouterr()) + caplog.text
    assert "without encryption" in shown and "Alternative text is missing on 1 image" in shown


def test_alt_text_comes_from_the_figures_titles_and_wraps_the_inline_printer():
    from types import SimpleNamespace

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.core.formatters import PNGFormatter
    from matplotlib.figure import Figure

    from kt_lib.notebook.style import alt_text_on_figures, figure_alt

    fig, axes = plt.subplots(1, 2)
    axes[0].set_title("photo")
    axes[1].set_title("drawing", loc="left")
    fig.suptitle("accuracy\nchange")
    assert figure_alt(fig) == "accuracy change. 2 panels: photo; drawing"
    formatter = PNGFormatter()
    shell = SimpleNamespace(display_formatter=SimpleNamespace(formatters={"image/png": formatter}))
    assert not alt_text_on_figures(shell)  # no inline printer yet: nothing to wrap
    formatter.for_type(Figure, lambda f: "cG5n")
    assert alt_text_on_figures(shell) and alt_text_on_figures(shell)  # wraps once
    assert formatter(fig) == ("cG5n", {"alt": "accuracy change. 2 panels: photo; drawing"})
    plt.close(fig)


def test_execute_starts_the_kernel_in_the_notebooks_folder_and_leaves_this_process_where_it_is(
    tmp_path, monkeypatch
):
    """papermill's `cwd` chdirs the whole process; with two notebooks at once the process ended in a
    notebooks folder and `kt tutorial --out outputs` could not find outputs/07_...ipynb. The kernel still
    starts next to its notebook; papermill's file reads and writes chdir only to the folder it started in."""
    import nbformat

    from kt_harness.cli.tutorial import execute

    src = tmp_path / "nbs"
    src.mkdir()
    nb = nbformat.read(_figure_notebook(src / "97_cwd.ipynb"), 4)
    nb.cells.append(
        nbformat.v4.new_code_cell("import os\nfrom kt_lib import record\nrecord(cwd=os.getcwd())")
    )
    nbformat.write(nb, src / "97_cwd.ipynb")
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    moves = []
    monkeypatch.setattr(os, "chdir", lambda path: moves.append(path))
    execute(Path("nbs") / "97_cwd.ipynb", Path("out") / "97_cwd.ipynb", smoke=True)
    assert {Path(m).resolve() for m in moves} <= {tmp_path.resolve()}, set(moves)
    assert Path(read_results(tmp_path / "out" / "97_cwd.ipynb")["cwd"]) == src.resolve()


def test_kernels_split_the_callers_thread_budget(monkeypatch):
    """`kernel_threads(jobs)` gives each kernel its share of this process's threads: a set OMP_NUM_THREADS is
    the budget (split, not handed to every kernel whole), unset means every core, never below 1; the
    caller's environment comes back afterwards."""
    from kt_harness.cli.tutorial import kernel_threads

    cases = [
        ("4", 2, "2"),
        ("2", 2, "1"),
        ("1", 2, "1"),
        ("3", 1, "3"),
        (None, 2, None),
        ("junk", 1, None),
    ]
    every = str(os.cpu_count() or 1)
    for given, jobs, seen in cases:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            if given is None:
                monkeypatch.delenv(var, raising=False)
            else:
                monkeypatch.setenv(var, given)
        expected = seen or str(max(1, int(every) // jobs))
        with kernel_threads(jobs):
            inside = (os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"])
        assert inside == (expected, expected), (given, jobs, inside)
        assert os.environ.get("OMP_NUM_THREADS") == given, "the caller's value came back"


def test_two_notebooks_at_a_time_run_longest_first_and_a_failure_is_raised(tmp_path, monkeypatch):
    """`kt tutorial --jobs 2`: every notebook runs and is rendered, the kernels get cores/2 threads
    (`OMP_NUM_THREADS`, seen inside the notebook), the recorded times order them longest first, and a
    failing notebook's error is raised after the running ones end."""
    import nbformat
    import pytest
    from papermill.exceptions import PapermillExecutionError

    from kt_harness.cli import tutorial

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    src = tmp_path / "nbs"
    src.mkdir()
    for name in ("97_a", "98_b"):
        nb = _figure_notebook(src / f"{name}.ipynb")
        book = nbformat.read(nb, 4)
        book.cells.append(
            nbformat.v4.new_code_cell(
                "import os\nfrom kt_lib import record\nrecord(threads=os.environ['OMP_NUM_THREADS'])"
            )
        )
        nbformat.write(book, nb)
    notebooks = sorted(src.glob("*.ipynb"))
    out = tmp_path / "out"
    out.mkdir()
    done = tutorial.run_all(notebooks, out, smoke=True, jobs=2)
    threads = str(max(1, (os.cpu_count() or 1) // 2))
    assert {n: d["results"]["threads"] for n, d in done.items()} == dict.fromkeys(
        ["97_a.ipynb", "98_b.ipynb"], threads
    )
    assert all((out / d["html"]).exists() for d in done.values())

    record = tmp_path / "benchmarks" / "tutorial_times.json"
    record.parent.mkdir()
    record.write_text(json.dumps({"notebooks": {"97_a": 1.0, "98_b": 5.0}}))
    monkeypatch.setattr(tutorial, "NOTEBOOKS", tmp_path / "nbs")
    assert [nb.name for nb in tutorial.longest_first(notebooks)] == ["98_b.ipynb", "97_a.ipynb"]

    bad = nbformat.read(notebooks[0], 4)
    bad.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('notebook 97 broke')"))
    nbformat.write(bad, notebooks[0])
    with pytest.raises(PapermillExecutionError, match="notebook 97 broke"):
        tutorial.run_all(notebooks, out, smoke=True, jobs=2)
