"""The collateral-damage figure: accuracy change against taxonomy distance, one line per method (house
style: `kt_lib.notebook.style`, the legend beside the panels)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kt_lib.notebook.style import finish, legend_outside

LEVELS = {
    "fine_change": "fine accuracy change (points)",
    "coarse_change": "coarse accuracy change (points)",
}


def plot_profile(
    agg: pd.DataFrame,
    by: str = "label",
    levels=("fine_change", "coarse_change"),
    domains=None,
    title: str | None = None,
):
    """Panels (level x domain) of the mean change per distance from
    :func:`kt_lib.eval.collateral.aggregate`, in percentage points, with `<level>_ci` whiskers when present;
    x ticks name the relation (forgotten, siblings, cousins, zero-shot families). Returns the Figure."""
    missing = [c for c in (by, "domain", "distance", "relation", *levels) if c not in agg]
    if missing:
        raise KeyError(
            f"plot_profile needs columns {missing}; pass kt_lib.eval.collateral.aggregate(...)"
        )
    domains = list(domains or sorted(agg.domain.unique(), key=lambda d: (d != "photo", d)))
    fig, axes = plt.subplots(
        len(levels),
        len(domains),
        figsize=(4.6 * len(domains) + 2.0, 3.3 * len(levels)),  # + 2 in: the legend beside them
        squeeze=False,
    )
    labels = list(dict.fromkeys(agg[by]))
    colors = dict(zip(labels, plt.cm.tab10(np.arange(len(labels)) % 10)))
    ticks = agg.drop_duplicates("distance").sort_values("distance")
    for i, level in enumerate(levels):
        for j, dom in enumerate(domains):
            ax = axes[i, j]
            for lab in labels:
                d = (
                    agg[(agg[by] == lab) & (agg.domain == dom)]
                    .dropna(subset=[level])
                    .sort_values("distance")
                )
                if d.empty:
                    continue
                ci = d.get(f"{level}_ci")
                yerr = None if ci is None or ci.isna().all() else 100 * ci.fillna(0).to_numpy()
                ax.errorbar(
                    d.distance,
                    100 * d[level],
                    yerr=yerr,
                    marker="o",
                    capsize=3,
                    color=colors[lab],
                    label=str(lab),
                )
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_xticks(ticks.distance, [r.replace(" ", "\n", 1) for r in ticks.relation])
            ax.set(
                ylabel=LEVELS.get(level, level),
                title=f"{dom}" + (" (in domain)" if dom == "photo" else ""),
            )
    legend_outside(axes[0, -1], "right")  # beside the panels, never over a line (issue 20)
    title = (
        title or "Where the damage goes: accuracy change by taxonomy distance to the forgotten set"
    )
    fig.suptitle(textwrap.fill(title, int(10 * fig.get_figwidth())))  # a narrow figure wraps it
    return finish(fig)
