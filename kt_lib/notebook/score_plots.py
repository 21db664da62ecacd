"""Figures of unlearning scores (notebooks 02-06 and the Explore panels): scores against a setting,
grouped bars, the OOD gap, per-concept accuracy, leaderboards with confidence intervals, level tables,
collateral damage by taxonomy distance (07), relearning curves (08) and the score distributions an audit
compares (09). Re-exported by `plots`."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kt_lib.notebook.style import PANEL_WIDTH, finish, legend_outside, pale

METRIC_LABELS = {
    "Q": "Q (forgetting)",
    "U": "U (utility)",
    "QU": "Q-U (harmonic mean)",
    "drawing_Q": "Q on drawings (OOD)",
    "drawing_U": "U on drawings (OOD)",
    "drawing_QU": "Q-U on drawings (OOD)",
    "zero_shot_utility": "zero-shot utility",
    "after_forget_coarse": "forget coarse acc. (after)",
    "after_retain_fine": "retain fine acc. (after)",
    "after_retain_coarse": "retain coarse acc. (after)",
}


def plot_metric_lines(df, x: str, hue=None, logx: bool = False, title: str | None = None):
    """One line per metric Q, U, Q-U (and per `hue` group) against setting `x`; y in [0, 1]."""
    fig, ax = plt.subplots(figsize=(8.0, 3.8))
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    for gi, (name, g) in enumerate(groups):
        g = g.sort_values(x)
        for mi, m in enumerate(("Q", "U", "QU")):
            label = METRIC_LABELS.get(m, m) + ("" if name is None else f" - {name}")
            ls = ["-", "--", ":", "-."][gi % 4]
            ax.plot(g[x], g[m], marker="o", ls=ls, color=f"C{mi}", label=label)
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=x, ylabel="score (fraction)", ylim=(-0.05, 1.05), title=title or f"scores vs {x}")
    legend_outside(ax)
    return finish(fig)


def plot_metric_bars(
    df, label: str = "label", metrics=("Q", "U", "QU"), title: str | None = None, width=None
):
    """Grouped bars: one group per row of `df` (named by `label`), one bar per metric, values printed
    (vertically when a group holds more than three bars). `width`: figure width in inches."""
    import seaborn as sns  # the notebooks' extra: `kt sweep` draws leaderboards without it

    fig, ax = plt.subplots(figsize=(width or max(7.0, 1.5 * len(df) + 3.5), 4.0))
    long = df.melt([label], list(metrics), var_name="metric")
    long["metric"] = long.metric.map(lambda m: METRIC_LABELS.get(m, m))
    sns.barplot(long, x=label, y="value", hue="metric", errorbar=None, saturation=1, ax=ax)
    vertical = len(metrics) > 3
    for bars in ax.containers:
        ax.bar_label(bars, fmt="%.2f", fontsize=9, rotation=90 if vertical else 0, padding=2)
    ylim, yticks = (0, 1.25 if vertical else 1.12), np.linspace(0, 1, 6)
    ax.set(xlabel="", ylabel="score (fraction)", ylim=ylim, yticks=yticks, title=title or "")
    legend_outside(ax)
    return finish(fig)


def plot_domain_gap(df, x: str = "lr", hue: str = "method"):
    """Left: forgetting in domain (photo Q, solid) and out of domain (drawing Q, dashed) against `x`;
    right: in-domain utility U, per `hue` group; log x axis."""
    fig, (ax_q, ax_u) = plt.subplots(1, 2, figsize=(12, 3.8))
    for i, (name, g) in enumerate(df.groupby(hue, sort=False)):
        g = g.sort_values(x)
        ax_q.plot(g[x], g["Q"], marker="o", color=f"C{i}", label=f"{name}: photo Q")
        ax_q.plot(g[x], g["drawing_Q"], "s--", color=f"C{i}", label=f"{name}: drawing Q")
        ax_u.plot(g[x], g["U"], marker="o", color=f"C{i}", label=f"{name}: U")
    for ax in (ax_q, ax_u):
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        legend_outside(ax)
    ax_q.set(
        xlabel=x, ylabel="Q = 1 - acc_after/acc_before", title="forgetting: photos vs drawings"
    )
    ax_u.set(xlabel=x, ylabel="U", title="utility (photos)")
    return finish(fig)


def plot_concept_domains(cf, title: str | None = None, width: float | None = None):
    """Per forgotten concept: fine accuracy before and after unlearning, photo vs drawing domain
    (`cf`: rows of kt_lib.notebook.leaderboard.concept_frame for one run); 'after' values are printed."""
    import seaborn as sns

    long = cf.melt(["concept", "domain"], ["before", "after"], var_name="when")
    long = long.assign(series=long.domain + ", " + long.when).dropna()  # empty series: no legend
    palette = {  # colour: the domain; pale: before (alpha 0.35 on white)
        f"{d}, {w}": pale("C0" if d == "photo" else "C1", 0.35 if w == "before" else 1.0)
        for d in dict.fromkeys(cf.domain)
        for w in ("before", "after")
        if f"{d}, {w}" in set(long.series)
    }
    fig, ax = plt.subplots(figsize=(width or max(8.0, 1.8 * cf.concept.nunique() + 2.5), 4.0))
    hue = dict(hue="series", hue_order=list(palette), palette=palette, errorbar=None, saturation=1)
    sns.barplot(long, x="concept", y="value", ax=ax, **hue)
    for series, bars in zip(palette, ax.containers):
        if series.endswith("after"):
            ax.bar_label(bars, fmt="%.2f", fontsize=9, rotation=90, padding=2)
    plt.setp(ax.get_xticklabels(), rotation=15, ha="right")
    ax.set(xlabel="", ylabel="fine (breed) accuracy", ylim=(0, 1.2), yticks=np.linspace(0, 1, 6))
    ax.set_title(title or "per concept, by domain")
    legend_outside(ax)
    return finish(fig)


def plot_leaderboard(
    agg, metric="QU", paper=None, paper_label="paper", title: str | None = None, width=8.0
):
    """Horizontal bars of `metric` per method (percent) with 95% CI whiskers (`<metric>_ci` from
    kt_lib.notebook.leaderboard.aggregate, fractions) clipped at 0 and 100; `paper` (method -> value in
    percent) is drawn as black diamonds."""
    agg = agg.sort_values(metric)
    fig, ax = plt.subplots(figsize=(width, 0.45 * len(agg) + 1.8))
    mean = 100 * agg[metric].to_numpy(dtype=float)
    half = 100 * agg.get(f"{metric}_ci", pd.Series(np.nan, agg.index)).to_numpy(dtype=float)
    ys = np.arange(len(agg))
    ax.barh(ys, mean, color="C0", alpha=0.8, label="ours (mean)")
    if np.isfinite(half).any():  # whiskers stop at 0 and 100; a single run (NaN) draws none
        half = np.nan_to_num(half, nan=0.0)
        err = np.clip([np.minimum(half, mean), np.minimum(half, 100 - mean)], 0, None)
        clipped = ((mean - half < 0) | (mean + half > 100)).any()
        label = "95% CI" + (" (clipped at 0 / 100)" if clipped else "")
        ax.errorbar(mean, ys, xerr=err, fmt="none", ecolor="black", capsize=3, label=label)
    pts = [(paper[m], y) for y, m in zip(ys, agg.method) if m in (paper or {})]
    if pts:
        ax.plot(*zip(*pts), "D", color="black", label=paper_label)
    ax.set_yticks(ys, agg.method)
    xlabel = f"{METRIC_LABELS.get(metric, metric)} (%)"
    ax.set(xlabel=xlabel, xlim=(0, 100), title=title or "leaderboard")
    legend_outside(ax)
    return finish(fig)


def plot_level_table(table, title: str | None = None):
    """A method x level heatmap of a value table (e.g. mean Q-U in percent), annotated (paper Table 3
    layout); a missing value is a blank cell."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(1.4 * table.shape[1] + 3.0, 0.45 * table.shape[0] + 1.4))
    sns.heatmap(table.astype(float), cmap="RdYlGn", vmin=0, vmax=100, annot=True, fmt=".1f", ax=ax)
    ax.set(title=title or "", xlabel="", ylabel="")
    ax.tick_params(axis="y", rotation=0)
    return finish(fig)


def plot_scorecard(entries: dict, metrics=("Q", "U", "QU"), title: str | None = None):
    """Bars of `metrics` for a few labelled score dicts side by side (the explore panels' view)."""
    rows = {k: {m: float(v.get(m, np.nan)) for m in metrics} for k, v in entries.items()}
    df = pd.DataFrame.from_dict(rows, orient="index").rename_axis("label").reset_index()
    return plot_metric_bars(df, "label", metrics, title=title, width=PANEL_WIDTH)


def plot_profile(agg, levels=("fine_change", "coarse_change"), domains=None, title=None):
    """Panels (level x domain) of the mean change per distance, one line per label, from
    :func:`kt_lib.eval.collateral.aggregate`, in percentage points, with `<level>_ci` whiskers when present;
    x ticks name the relation (forgotten, siblings, cousins, zero-shot families). Returns the Figure."""
    missing = [c for c in ("label", "domain", "distance", "relation", *levels) if c not in agg]
    if missing:
        raise KeyError(f"plot_profile needs columns {missing}; pass collateral.aggregate(...)")
    domains = list(domains or sorted(agg.domain.unique(), key=lambda d: (d != "photo", d)))
    size = (4.6 * len(domains) + 2.0, 3.3 * len(levels))  # + 2 in: the legend beside them
    fig, axes = plt.subplots(len(levels), len(domains), figsize=size, squeeze=False)
    labels = list(dict.fromkeys(agg.label))
    colors = dict(zip(labels, plt.cm.tab10(np.arange(len(labels)) % 10)))
    ticks = agg.drop_duplicates("distance").sort_values("distance")
    for i, level in enumerate(levels):
        for j, dom in enumerate(domains):
            ax = axes[i, j]
            for lab in labels:
                d = agg[(agg.label == lab) & (agg.domain == dom)].dropna(subset=[level])
                if d.empty:
                    continue
                d = d.sort_values("distance")
                ci = d.get(f"{level}_ci")
                yerr = None if ci is None or ci.isna().all() else 100 * ci.fillna(0).to_numpy()
                style = dict(marker="o", capsize=3, color=colors[lab], label=str(lab))
                ax.errorbar(d.distance, 100 * d[level], yerr=yerr, **style)
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_xticks(ticks.distance, [r.replace(" ", "\n", 1) for r in ticks.relation])
            ylabel = level.replace("_change", " accuracy change (points)")
            ax.set(ylabel=ylabel, title=dom + (" (in domain)" if dom == "photo" else ""))
    legend_outside(axes[0, -1])  # beside the panels, never over a line (issue 20)
    title = (
        title or "Where the damage goes: accuracy change by taxonomy distance to the forgotten set"
    )
    fig.suptitle(textwrap.fill(title, int(10 * fig.get_figwidth())))  # a narrow figure wraps it
    return finish(fig)


def plot_relearning(frame, original_accuracy: float | None = None, title: str | None = None):
    """One panel per (attack, k) of `recovery.curves`' frame: forget_fine after each relearning step
    (symlog step axis, so step 0 shows), a line per model; a dotted line at half the original accuracy."""
    panels = list(frame.groupby(["attack", "k"], sort=False))
    size = (3.6 * len(panels) + 2.2, 3.4)
    fig, axes = plt.subplots(1, len(panels), figsize=size, sharey=True, squeeze=False)
    for ax, ((attack, k), g) in zip(axes[0], panels):
        for i, model in enumerate(dict.fromkeys(frame.model)):
            m = g[g.model == model].sort_values("step")
            ax.plot(m.step, m.forget_fine, "o-", color=f"C{i}", lw=1.5, ms=4, label=model)
        if original_accuracy is not None:
            ax.axhline(original_accuracy / 2, color="grey", ls=":", lw=1, label="half the original")
        ax.set_xscale("symlog", linthresh=1)
        ax.set(xlabel="relearning steps", title=f"{attack}: k={k} / concept", ylim=(-0.03, 1.03))
    axes[0][0].set_ylabel("forgotten breeds' accuracy")
    legend_outside(axes[0][-1])
    if title:
        fig.suptitle(title)
    return finish(fig)


def plot_distributions(samples: dict, xlabel: str, title: str | None = None):
    """One outlined histogram per entry of `samples` (name -> values) on shared bins: the score
    distributions an audit compares (members vs non-members, 09; one model's truth ratios vs another's)."""
    values = {k: np.asarray(v, dtype=float) for k, v in samples.items()}
    every = np.concatenate(list(values.values()))
    bins = np.histogram_bin_edges(every[np.isfinite(every)], bins=30)
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for i, (name, v) in enumerate(values.items()):
        ax.hist(v, bins=bins, histtype="step", lw=1.8, color=f"C{i}", label=f"{name} (n={len(v)})")
    ax.set(xlabel=xlabel, ylabel="images", title=title or "")
    legend_outside(ax)
    return finish(fig)
