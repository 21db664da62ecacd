"""The figures' house style: every plot ends with :func:`finish` (no text below :data:`MIN_FONT` points)
and puts its legend beside the axes (:func:`legend_outside`); :func:`alt_text_on_figures` (called by
`setup`) gives every figure a notebook shows alternative text."""

from __future__ import annotations

import sys

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.text import Text

MIN_FONT = 9.0  # points: the smallest text any figure shows
PANEL_WIDTH = 9.0  # inches: an Explore panel's figure (900 px at the inline backend's 100 dpi)


def plural(n: int, word: str) -> str:
    """'1 run', '2 runs'."""
    return f"{n} {word if n == 1 else word + 's'}"


def pale(color, alpha: float = 0.45):
    """`color` drawn at `alpha` on a white background, as an opaque RGB colour (for seaborn palettes)."""
    return tuple(1 - alpha * (1 - x) for x in to_rgb(color))


def _drew_something(handle) -> bool:
    """False for a series with no finite value (an all-NaN line or a container of NaN bars)."""
    if hasattr(handle, "get_ydata"):
        return bool(np.isfinite(np.asarray(handle.get_ydata(), dtype=float)).any())
    patches = getattr(handle, "patches", None)
    return patches is None or any(
        np.isfinite([p.get_width(), p.get_height()]).all() for p in patches
    )


def legend_outside(ax):
    """A legend to the right of `ax`, without entries for series that drew nothing (none if no series is
    labelled)."""
    kept = [(h, lab) for h, lab in zip(*ax.get_legend_handles_labels()) if _drew_something(h)]
    if kept:
        handles, labels = zip(*kept)
        place = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        ax.legend(handles, labels, fontsize=MIN_FONT, frameon=False, **place)


def finish(fig):
    """Raise every text below MIN_FONT points (tick labels included) and lay the figure out."""
    for ax in fig.axes:
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            labels = axis.get_ticklabels(which="both")[:1]
            size = max([MIN_FONT, *(t.get_fontsize() for t in labels)])
            ax.tick_params(axis=name, which="both", labelsize=size)
    for t in fig.findobj(Text):
        if t.get_text() and t.get_fontsize() < MIN_FONT:
            t.set_fontsize(MIN_FONT)
    fig.tight_layout()
    return fig


def figure_alt(fig) -> str:
    """A figure's alternative text: its title and its panels' titles (else their axis labels)."""
    flat = lambda t: " ".join(t.split())  # noqa: E731
    sup = getattr(fig, "_suptitle", None)
    parts = [flat(sup.get_text())] if sup is not None and sup.get_text().strip() else []
    titles = [" ".join(ax.get_title(loc) for loc in ("left", "center", "right")) for ax in fig.axes]
    panels = [flat(t) for t in titles if t.strip()] or [
        f"{flat(ax.get_ylabel())} against {flat(ax.get_xlabel())}"
        for ax in fig.axes
        if ax.get_xlabel() and ax.get_ylabel()
    ]
    count, panels = len(panels), [p for p in dict.fromkeys(panels) if p not in parts]
    if panels:  # counted: the panels with a title (not a colour bar); shown: each title once
        parts.append(plural(count, "panel") + ": " + "; ".join(panels))
    return ". ".join(parts)[:400] or "a figure without a title"


def alt_text_on_figures(shell=None) -> bool:
    """Make IPython's PNG of a Figure carry `figure_alt` (as {"alt": ...} in the output's metadata, which
    `kt_lib.notebook.report.add_alt_text` puts on the image) by wrapping the inline backend's PNG
    printer; False where there is none (outside IPython, or before `%matplotlib inline`)."""
    ipython = sys.modules.get("IPython")  # not imported: no notebook kernel runs this
    shell = shell or (ipython.get_ipython() if ipython else None)
    if shell is None:
        return False
    from matplotlib.figure import Figure

    formatter = shell.display_formatter.formatters["image/png"]
    printer = formatter.type_printers.get(Figure)
    if printer is None or getattr(printer, "gives_alt", False):
        return printer is not None

    def png(fig):
        data = printer(fig)
        return (data, {"alt": figure_alt(fig)}) if data else data

    png.gives_alt = True
    formatter.for_type(Figure, png)
    return True
