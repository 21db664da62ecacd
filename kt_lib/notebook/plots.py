"""Figures (matplotlib; every function returns the Figure and never calls plt.show())."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from kt_lib.notebook.world_plots import (  # noqa: F401  (re-exported: plots.X is the notebooks' one namespace)
    draw_samples,
    plot_difficulty,
    plot_group_accuracy,
    plot_image_grid,
    plot_sibling_confusion,
)

_METRIC_LABELS = {
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


def plot_loss_vs_gap(margins=(0.5, 1.0, 2.0, 5.0), gaps=None, num_classes: int = 56):
    """NHL (each margin) and GA as a function of the target-logit gap s_y - max_{y'!=y} s_y' on synthetic
    logits (kt_lib.losses), with the gradient each passes to the target logit."""
    import torch

    from kt_lib.losses import ga, nhl

    gaps = np.linspace(-10, 4, 281) if gaps is None else np.asarray(gaps, dtype=float)
    others = torch.full((len(gaps), num_classes), -5.0)
    others[:, 1] = 0.0  # the best other class sits at logit 0
    labels = torch.zeros(len(gaps), dtype=torch.long)

    def curve(fn):
        logits = others.clone()
        logits[:, 0] = torch.tensor(gaps, dtype=torch.float32)
        logits.requires_grad_(True)
        values = torch.stack([fn(logits[i : i + 1], labels[i : i + 1]) for i in range(len(gaps))])
        values.sum().backward()
        return values.detach().numpy(), logits.grad[:, 0].numpy()

    fig, (ax_l, ax_g) = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = plt.cm.viridis(np.linspace(0.1, 0.85, len(margins)))
    for m, c in zip(margins, colors):
        v, g = curve(lambda x, y, m=m: nhl(x, y, margin=float(m)))
        ax_l.plot(gaps, v, color=c, label=f"NHL, margin {m:g}")
        ax_g.plot(gaps, g, color=c, label=f"NHL, margin {m:g}")
    v, g = curve(ga)
    ax_l.plot(gaps, v, color="crimson", lw=2, ls="--", label="GA (-CE)")
    ax_g.plot(gaps, g, color="crimson", lw=2, ls="--", label="GA (-CE)")
    ax_l.set(
        xlabel="target-logit gap  $s_y - \\max_{y'\\neq y} s_{y'}$",
        ylabel="loss",
        title="NHL stops at gap = -margin; GA keeps going",
    )
    ax_g.set(
        xlabel="target-logit gap", ylabel="d loss / d $s_y$", title="gradient on the target logit"
    )
    for ax in (ax_l, ax_g):
        ax.axvline(0, color="grey", lw=0.5)
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_metric_lines(
    df,
    x: str,
    metrics=("Q", "U", "QU"),
    hue: str | None = None,
    logx: bool = False,
    title: str | None = None,
    ax=None,
):
    """One line per metric (and per `hue` group) against setting `x`; y in [0, 1]."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 3.6))
    styles = ["-", "--", ":", "-."]
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    for gi, (name, g) in enumerate(groups):
        g = g.sort_values(x)
        for mi, m in enumerate(metrics):
            label = _METRIC_LABELS.get(m, m) + ("" if name is None else f" - {name}")
            ax.plot(
                g[x], g[m], marker="o", ls=styles[gi % len(styles)], color=f"C{mi}", label=label
            )
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=x, ylabel="score (fraction)", ylim=(-0.05, 1.05), title=title or f"scores vs {x}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_metric_bars(
    df, label: str = "label", metrics=("Q", "U", "QU"), title: str | None = None, ax=None
):
    """Grouped bars: one group per row of `df` (named by `label`), one bar per metric, values printed."""
    fig, ax = (
        (ax.figure, ax) if ax is not None else plt.subplots(figsize=(max(5, 1.4 * len(df)), 3.6))
    )
    width = 0.8 / len(metrics)
    xs = np.arange(len(df))
    for i, m in enumerate(metrics):
        bars = ax.bar(
            xs + (i - (len(metrics) - 1) / 2) * width, df[m], width, label=_METRIC_LABELS.get(m, m)
        )
        ax.bar_label(bars, fmt="%.2f", fontsize=6)
    ax.set_xticks(xs, df[label], fontsize=8)
    ncol = min(len(metrics), 3)
    ax.set(
        ylabel="score (fraction)",
        ylim=(0, 1.08 + 0.1 * -(-len(metrics) // ncol)),
        title=title or "",
    )
    ax.legend(fontsize=7, ncol=ncol, loc="upper center")
    fig.tight_layout()
    return fig


def plot_domain_gap(df, x: str = "lr", hue: str = "method", logx: bool = True):
    """Left: forgetting in domain (photo Q, solid) and out of domain (drawing Q, dashed) against `x`;
    right: in-domain utility U, per `hue` group."""
    fig, (ax_q, ax_u) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (name, g) in enumerate(df.groupby(hue, sort=False)):
        g = g.sort_values(x)
        ax_q.plot(g[x], g["Q"], marker="o", color=f"C{i}", label=f"{name}: photo Q")
        ax_q.plot(
            g[x],
            g["drawing_Q"],
            marker="s",
            ls="--",
            color=f"C{i}",
            label=f"{name}: drawing Q (OOD)",
        )
        ax_u.plot(g[x], g["U"], marker="o", color=f"C{i}", label=f"{name}: U")
    for ax in (ax_q, ax_u):
        if logx:
            ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=7)
    ax_q.set(
        xlabel=x,
        ylabel="Q = 1 - acc_after/acc_before",
        title="forgetting: photos (unlearned) vs drawings",
    )
    ax_u.set(xlabel=x, ylabel="U", title="utility (photos)")
    fig.tight_layout()
    return fig


def plot_concept_domains(cf, title: str | None = None):
    """Per forgotten concept: fine accuracy before and after unlearning, photo vs drawing domain
    (`cf`: rows of kt_lib.notebook.sweeps.concept_frame for one run)."""
    concepts = list(dict.fromkeys(cf.concept))
    domains = list(dict.fromkeys(cf.domain))
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(concepts)), 3.6))
    width = 0.8 / (2 * len(domains))
    xs = np.arange(len(concepts))
    k = 0
    for d in domains:
        sub = cf[cf.domain == d].set_index("concept").reindex(concepts)
        for when, alpha in (("before", 0.35), ("after", 1.0)):
            ax.bar(
                xs + (k - (2 * len(domains) - 1) / 2) * width,
                sub[when],
                width,
                alpha=alpha,
                color="C0" if d == "photo" else "C1",
                label=f"{d}, {when}",
            )
            k += 1
    ax.set_xticks(xs, concepts, fontsize=7, rotation=15)
    ax.set(
        ylabel="fine (breed) accuracy",
        ylim=(0, 1.05),
        title=title or "per concept: before vs after, by domain",
    )
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_leaderboard(
    agg,
    metric: str = "QU",
    paper: dict | None = None,
    paper_label: str = "paper",
    title: str | None = None,
    ax=None,
):
    """Horizontal bars of `metric` per method with CI whiskers (`<metric>_ci` from kt_lib.notebook.sweeps.aggregate,
    fractions); `paper` (method -> value in percent) is drawn as labelled black diamonds."""
    agg = agg.sort_values(metric)
    fig, ax = (
        (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 0.45 * len(agg) + 1.5))
    )
    ci = agg.get(f"{metric}_ci")
    err = None if ci is None else np.nan_to_num(100 * ci.to_numpy(dtype=float))
    ys = np.arange(len(agg))
    ax.barh(
        ys,
        100 * agg[metric],
        xerr=err,
        capsize=3,
        color="C0",
        alpha=0.8,
        label="ours (mean, 95% CI)",
    )
    if paper:
        pts = [(y, paper[m]) for y, m in zip(ys, agg.method) if m in paper]
        if pts:
            ax.plot([p[1] for p in pts], [p[0] for p in pts], "D", color="black", label=paper_label)
    ax.set_yticks(ys, agg.method)
    ax.set(
        xlabel=f"{_METRIC_LABELS.get(metric, metric)} (%)",
        xlim=(0, 105),
        title=title or "leaderboard",
    )
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_level_table(table, title: str | None = None, fmt: str = "{:.1f}"):
    """A method x level heatmap of a value table (e.g. mean Q-U in percent), annotated (paper Table 3 layout)."""
    fig, ax = plt.subplots(figsize=(1.4 * table.shape[1] + 2.5, 0.4 * table.shape[0] + 1.2))
    im = ax.imshow(table.to_numpy(dtype=float), cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns)
    ax.set_yticks(range(table.shape[0]), table.index)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            v = table.iat[i, j]
            ax.text(j, i, fmt.format(v) if v == v else "-", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_title(title or "")
    fig.tight_layout()
    return fig


def plot_scorecard(entries: dict, metrics=("Q", "U", "QU"), title: str | None = None):
    """Bars of `metrics` for a few labelled score dicts side by side (the explore panels' view)."""
    import pandas as pd

    df = pd.DataFrame(
        [dict(label=k, **{m: float(v.get(m, np.nan)) for m in metrics}) for k, v in entries.items()]
    )
    return plot_metric_bars(df, "label", metrics, title=title)


# --- the world, the proxy set and GA's collapse (notebooks 00-03) -----------------------------------------

_ACC_LABELS = {
    "after_forget_fine": "forget, fine (should fall)",
    "after_forget_coarse": "forget, coarse (keep)",
    "after_retain_fine": "retain, fine (keep)",
    "after_retain_coarse": "retain, coarse (keep)",
    "after_zero_shot": "zero-shot fruit/flower/vehicle (keep)",
}


def plot_loss_curves(histories: dict, column: str = "loss", title: str | None = None):
    """Training loss per step for several runs (`{label: UnlearnResult.history}`); symlog y-axis so that a
    bounded loss near 0 and a runaway one far below 0 fit on one plot."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (label, hist) in enumerate(histories.items()):
        if len(hist) and column in hist:
            ax.plot(hist["step"], hist[column], color=f"C{i}", lw=1.5, label=label)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(
        xlabel="optimizer step",
        ylabel=f"{column} (symlog scale)",
        title=title or "unlearning loss per step",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_collapse(
    df, before: dict, x: str = "num_epochs", keys=tuple(_ACC_LABELS), title: str | None = None
):
    """Accuracies (%) after unlearning against a training budget `x` (one row of `df` per run, columns
    `after_*` as returned by `Experiment.run`); x = 0 is the original model (`before`)."""
    df = df.sort_values(x)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, key in enumerate(k for k in keys if k in df):
        xs = [0, *df[x]]
        ys = [100 * before[key[len("after_") :]], *(100 * df[key])]
        ax.plot(
            xs,
            ys,
            marker="o",
            color=f"C{i}",
            ls="-" if "forget_fine" in key else "--",
            label=_ACC_LABELS.get(key, key),
        )
    ax.set(
        xlabel=x.replace("_", " "),
        ylabel="accuracy (%)",
        ylim=(-3, 105),
        title=title or f"accuracies as {x.replace('_', ' ')} grows",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
