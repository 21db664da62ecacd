"""The figures' house style: readable text, legends outside the data, intervals inside the axis.

Every plotting function of :mod:`kt_lib.notebook.plots` ends with :func:`finish`, which raises any text
below :data:`MIN_FONT` points and lays the figure out with its legends. :func:`legend_outside` puts a
legend beside the axes (never over bars, lines or tick labels) and leaves out series that drew nothing;
:func:`clip_interval` turns a symmetric half-width into whiskers that stop at the axis limits.
:func:`alt_text_on_figures` (called by `setup`) gives every figure a notebook shows alternative text.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.text import Text

MIN_FONT = 9.0  # points: the smallest text any figure shows
PANEL_WIDTH = (
    9.0  # inches: an Explore panel's figure (about 900 px at the inline backend's 100 dpi)
)


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 run', '2 runs' (`many` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def pale(color, alpha: float = 0.45):
    """`color` drawn at `alpha` on a white background, as an opaque RGB colour (for seaborn palettes)."""
    return tuple(1 - alpha * (1 - x) for x in to_rgb(color))


def _drew_something(handle) -> bool:
    """False for a series with no finite value (an all-NaN line or a container of NaN bars)."""
    if hasattr(handle, "get_ydata"):
        y = np.asarray(handle.get_ydata(), dtype=float)
        return bool(np.isfinite(y).any())
    patches = getattr(handle, "patches", None)
    if patches is not None:
        return any(np.isfinite(p.get_width()) and np.isfinite(p.get_height()) for p in patches)
    return True


def legend_outside(ax, where: str = "right", ncol: int = 1, **kwargs):
    """A legend beside `ax` (`where`: 'right' or 'below'), without entries for series that drew nothing.
    Returns the Legend, or None when no series is labelled."""
    handles, labels = ax.get_legend_handles_labels()
    kept = [(h, lab) for h, lab in zip(handles, labels) if _drew_something(h)]
    if not kept:
        return None
    if where == "right":
        place = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    elif where == "below":
        place = dict(loc="upper center", bbox_to_anchor=(0.5, -0.2))
    else:
        raise ValueError(f"legend_outside: where must be 'right' or 'below', got {where!r}")
    return ax.legend(
        [h for h, _ in kept],
        [lab for _, lab in kept],
        fontsize=MIN_FONT,
        ncol=ncol,
        borderaxespad=0.0,
        frameon=False,
        **place,
        **kwargs,
    )


def clip_interval(mean, half, lo: float, hi: float):
    """Asymmetric whiskers [[below], [above]] for `mean` ± `half` that stop at [lo, hi], and a mask of the
    clipped ones. A NaN half-width (a single run) draws no whisker."""
    mean = np.asarray(mean, dtype=float)
    half = np.nan_to_num(np.asarray(half, dtype=float), nan=0.0)
    below = np.clip(np.minimum(half, mean - lo), 0, None)
    above = np.clip(np.minimum(half, hi - mean), 0, None)
    clipped = (mean - half < lo) | (mean + half > hi)
    return np.vstack([below, above]), clipped


def finish(fig, min_font: float = MIN_FONT, layout: bool = True):
    """Raise every text below `min_font` points (tick labels included) and lay the figure out."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = axis.get_ticklabels(which="both")
            size = max([min_font, *(t.get_fontsize() for t in labels[:1])])
            ax.tick_params(axis="x" if axis is ax.xaxis else "y", which="both", labelsize=size)
    for t in fig.findobj(Text):
        if t.get_text() and t.get_fontsize() < min_font:
            t.set_fontsize(min_font)
    if layout and not fig.get_constrained_layout():
        fig.tight_layout()
    return fig


def figure_alt(fig) -> str:
    """A figure's alternative text: its title and its panels' titles (else their axis labels)."""
    flat = lambda t: " ".join(t.split())  # noqa: E731
    sup = getattr(fig, "_suptitle", None)
    parts = [flat(sup.get_text())] if sup is not None and sup.get_text().strip() else []
    titles = [" ".join(ax.get_title(loc) for loc in ("left", "center", "right")) for ax in fig.axes]
    panels = [flat(t) for t in titles if t.strip()]
    if not panels:
        panels = [
            f"{flat(ax.get_ylabel())} against {flat(ax.get_xlabel())}"
            for ax in fig.axes
            if ax.get_xlabel() and ax.get_ylabel()
        ]
    count, panels = len(panels), [p for p in dict.fromkeys(panels) if p not in parts]
    if panels:  # counted: the panels with a title (not a colour bar); shown: each title once
        parts.append(plural(count, "panel") + ": " + "; ".join(panels))
    return ". ".join(parts)[:400] or "a figure without a title"


def alt_text_on_figures(shell=None) -> bool:
    """Make IPython's PNG of a matplotlib Figure carry the figure's alternative text (`figure_alt`, as
    {"alt": ...} in the output's metadata), which the tutorial's HTML report puts on the image
    (`kt_lib.notebook.report.add_alt_text`). Wraps the PNG printer the inline backend registered; returns
    False where there is none (outside IPython, or before `%matplotlib inline`)."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
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
