"""Generate the README's "Layout" section from the tree: every top-level folder, and every module of kt_lib,
kt_harness, benchmarks and tools with the first sentence of its docstring, and the line counts of
tools/count_lines.py.

    python tools/layout.py           # print the section
    python tools/layout.py --write   # replace it in README.md (tests/test_layout.py checks they agree)
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
from pathlib import Path

from count_lines import count

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Layout"
# top-level folders whose role no docstring states
FOLDERS = {
    ".ci": "what CI runs: installs, runs `make test`, fails when no test ran",
    "benchmarks": "the recorded runs the README quotes, and the scripts that record them",
    "data": "how to lay out real data, and what the bundled taxonomies hold (`data/README.md`)",
    "docs": "guides longer than the README (`docs/sweeps.md`) and their images",
    "notebooks": "the tutorial, one numbered notebook per lesson, and `_template.ipynb` for a new one",
    "sweeps": "example `kt sweep` configs",
    "tests": "`make test`; `tests/test_layers.py` ranks every module and keeps imports one way",
    "tools": "maintenance scripts",
}
PACKAGES = ("kt_lib", "kt_harness")
ORDER = (
    "request (knowledge) -> data (world) -> model -> loss (methods) -> step -> loop -> evaluation -> "
    "experiment -> analysis -> notebook helpers -> harness -> cli"
)


def first_sentence(text: str | None) -> str:
    """The first sentence of a docstring's first paragraph, on one line, without its full stop."""
    para = " ".join((text or "").strip().split("\n\n")[0].split())
    safe = para.replace("e.g. ", "e\0g\0 ").replace("i.e. ", "i\0e\0 ")
    return re.split(r"(?<=\.) ", safe)[0].replace("\0", ".").removesuffix(".")


def docstring(path: Path) -> str:
    text = ast.get_docstring(ast.parse(path.read_text()))
    if not text:
        raise ValueError(f"{path} has no docstring: its first sentence describes it in the README")
    return first_sentence(text)


def _top_folders(root: Path) -> list[str]:
    """Top-level folders that git tracks or would track (ignored ones, like .venv, are left out)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    found = {f.split("/")[0] for f in files if "/" in f and (root / f.split("/")[0]).is_dir()}
    return [*(p for p in PACKAGES if p in found), *sorted(found - set(PACKAGES))]


def _package(folder: Path, root: Path, depth: int) -> list[str]:
    pad = "  " * depth
    out = [f"{pad}- `{folder.relative_to(root)}/`: {docstring(folder / '__init__.py')}"]
    for path in sorted(folder.glob("*.py")):
        if path.name != "__init__.py":
            out.append(f"{pad}  - `{path.name}`: {docstring(path)}")
    data = [
        d.name for d in sorted(folder.iterdir()) if d.is_dir() and not (d / "__init__.py").exists()
    ]
    data = [d for d in data if d != "__pycache__"]
    if data:
        out.append(f"{pad}  - data: {', '.join(f'`{d}/`' for d in data)}")
    for sub in sorted(d for d in folder.iterdir() if (d / "__init__.py").exists()):
        out += _package(sub, root, depth + 1)
    return out


def _hundreds(n: int) -> str:
    return f"~{round(n, -2):,}"


def section(root: Path = ROOT) -> str:
    """The README's Layout section, from its heading to the blank line before the next one."""
    c = count(root)
    t = c["targets"]

    def against(key: str) -> str:
        met = "met" if c[key] <= t[key]["at_most"] else "not met yet"
        return f"at most {t[key]['at_most']:,} (was {t[key]['was']:,}): {met}"

    lines = [
        HEADING,
        "",
        "Generated from the tree by `python tools/layout.py --write` (`tests/test_layout.py` fails when this",
        "section and the tree differ): each folder, and each module with the first sentence of its docstring.",
        f"Imports run one way, lowest first: {ORDER} (`tests/test_layers.py`).",
        "",
        "| Python lines (`wc -l`; exact: `python tools/count_lines.py`) | now, rounded | issue 28 |",
        "|---|---|---|",
        f"| `kt_lib/` | {_hundreds(c['kt_lib'])} | {against('kt_lib')} |",
        f"| what the notebooks' names reach of it | {_hundreds(c['notebooks_reach'])} | "
        f"{against('notebooks_reach')} |",
        f"| `kt_harness/` | {_hundreds(c['kt_harness'])} | |",
        f"| `benchmarks/*.py` and `tools/*.py` | {_hundreds(c['benchmarks'] + c['tools'])} | |",
        f"| non-test total | {_hundreds(c['total'])} | {against('total')} |",
        "",
    ]
    for name in _top_folders(root):
        folder = root / name
        if name in PACKAGES:
            lines += _package(folder, root, 0)
            continue
        if name not in FOLDERS:
            raise KeyError(f"describe the top-level folder {name!r} in tools/layout.py FOLDERS")
        lines.append(f"- `{name}/`: {FOLDERS[name]}")
        if name in ("benchmarks", "tools"):
            lines += [f"  - `{p.name}`: {docstring(p)}" for p in sorted(folder.glob("*.py"))]
    lines += [
        "",
        "ruff (configured in `pyproject.toml`) lints everything and formats the Python files; `make test`",
        "enforces both, and that no module of `kt_lib` or `kt_harness` grows past 300 lines.",
    ]
    return "\n".join(lines) + "\n"


def readme_section(readme: str) -> str:
    """The Layout section of README.md's text, as `section` writes it (up to the blank line before the next
    heading)."""
    start = readme.index(HEADING + "\n")
    end = readme.find("\n\n## ", start)
    return readme[start : len(readme) if end < 0 else end + 1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the section in README.md")
    args = parser.parse_args(argv)
    text = section()
    if not args.write:
        print(text, end="")
        return
    path = ROOT / "README.md"
    readme = path.read_text()
    path.write_text(readme.replace(readme_section(readme), text))


if __name__ == "__main__":
    main()
