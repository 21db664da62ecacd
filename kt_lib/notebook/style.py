"""The figures' house style: readable text, legends outside the data, intervals inside the axis.

Every plotting function of :mod:`kt_lib.notebook.plots` ends with :func:`finish`, which raises any text
below :data:`MIN_FONT` points and lays the figure out with its legends. :func:`legend_outside` puts a
legend beside the axes (never over bars, lines or tick labels) and leaves out series that drew nothing;
:func:`clip_interval` turns a symmetric half-width into whiskers that stop at the axis limits.
"""

from __future__ import annotations

import numpy as np
from matplotlib.text import Text

MIN_FONT = 9.0  # points: the smallest text any figure shows
PANEL_WIDTH = (
    9.0  # inches: an Explore panel's figure (about 900 px at the inline backend's 100 dpi)
)


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 run', '2 runs' (`many` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


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
