"""The README's notebook map lists exactly the numbered notebooks that `kt tutorial` runs: the same files, in
order, numbered 00, 01, ... without a gap, each row's number that of its file."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_maps_every_numbered_notebook_in_order():
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| \[(\d\d) · [^\]]+\]\(notebooks/([^)]+\.ipynb)\) \|", readme, re.M)
    files = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [name for _, name in rows] == files
    assert [number for number, _ in rows] == [f"{i:02d}" for i in range(len(files))]
    assert all(name.startswith(f"{number}_") for number, name in rows)
