"""The tutorial's report (`kt tutorial`): HTML renderings of executed notebooks (nbconvert, every figure
with alternative text) and `<out>/index.html` linking each with its run time and the results it recorded
(`kt_lib.notebook.record`), plus the world's sample grid and summary when present."""

from __future__ import annotations

import html
import json
from pathlib import Path

from kt_lib.notebook.style import plural

_IMAGES = ("image/png", "image/jpeg")


def add_alt_text(nb, name: str) -> int:
    """Give every figure among `nb`'s outputs alternative text (an <img> with alt, which nbconvert renders
    instead of the bare image): which figure of notebook `name`, the section it is in, and the titles the
    kernel recorded for it (`kt_lib.notebook.style.alt_text_on_figures`). Returns how many got one."""
    heading, count = "", 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heads = [ln for ln in cell.source.splitlines() if ln.startswith("#")]
            heading = heads[-1].lstrip("#").strip() if heads else heading
            continue
        for out in cell.get("outputs", []):
            mime = next((m for m in _IMAGES if m in out.get("data", {})), None)
            if mime is None or "text/html" in out["data"]:
                continue
            count += 1
            alt = f"figure {count} of {name}" + (f", section '{heading}'" if heading else "")
            titles = out.get("metadata", {}).get(mime, {}).get("alt")
            alt += f": {titles}" if titles else ""
            data, alt = "".join(str(out["data"][mime]).split()), html.escape(alt, quote=True)
            out["data"]["text/html"] = f'<img src="data:{mime};base64,{data}" alt="{alt}">'
    return count


def render_html(notebook: str | Path) -> Path:
    """Write `<notebook>.html` beside an executed notebook (nbconvert's lab template), its figures with
    alternative text (`add_alt_text`), and return its path."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    nb = nbformat.read(notebook, as_version=4)
    add_alt_text(nb, notebook.stem)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    notebook.with_suffix(".html").write_text(body, encoding="utf-8")
    return notebook.with_suffix(".html")


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_value(x)}" for k, x in v.items())
    return ", ".join(map(_value, v)) if isinstance(v, (list, tuple)) else str(v)


def _results(results: dict) -> str:
    if not results:
        return "<i>nothing recorded</i>"
    rows = "".join(
        f"<tr><td><code>{html.escape(str(k))}</code></td><td>{html.escape(_value(v))}</td></tr>"
        for k, v in results.items()
    )
    return f"<table class='results'>{rows}</table>"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; } td, th { border-bottom: 1px solid #ddd; padding: 4px 8px;
vertical-align: top; text-align: left; } table.results td { border: none; padding: 1px 6px; }
img { max-width: 100%; } .note { color: #555; }
"""


def write_index(out: str | Path, summary: list[dict]) -> Path:
    """Write `<out>/index.html` from `summary` rows (`notebook`, `seconds`, `results`, optional `html`)."""
    out = Path(out)
    total = sum(float(r.get("seconds") or 0) for r in summary)
    rows = []
    for r in summary:
        name = html.escape(r["notebook"])
        page = r.get("html")
        link = f"<a href='{html.escape(page)}'>{name}</a>" if page else name
        rows.append(
            f"<tr><td>{link}<br><a class='note' href='{name}'>.ipynb</a></td>"
            f"<td>{float(r.get('seconds') or 0):.1f} s</td><td>{_results(r.get('results') or {})}</td></tr>"
        )
    world = ""
    if (out / "world.json").exists():
        shown = json.loads((out / "world.json").read_text())
        shown.pop("checkpoint", None)
        world += f"<h2>The world model</h2>{_results(shown)}"
    if (out / "world_samples.png").exists():
        world += "<p><img src='world_samples.png' alt='sample images of the world'></p>"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>kt-unlearn tutorial</title><style>{_STYLE}</style></head>
<body><h1>kt-unlearn tutorial</h1>
<p class="note">{plural(len(summary), "notebook")} executed in {total:.0f} s. Each link opens the executed
notebook as HTML (no Jupyter needed); the results are what each notebook recorded.</p>
<table><tr><th>notebook</th><th>run time</th><th>recorded results</th></tr>
{"".join(rows)}
</table>
{world}
</body></html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")
    return out / "index.html"
