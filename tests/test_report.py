"""kt_lib.notebook.report: an executed notebook renders to HTML and the index links it with its results."""

import json

import nbformat

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
