"""Figures, the notebooks' one namespace (`plots.X`): the losses and GA's collapse here, the world in
`world_plots`, unlearning scores in `score_plots`. Every function returns the Figure, never calls
plt.show(), and follows `style` (text >= 9 pt, legends beside the data)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from kt_lib.notebook.collateral_plots import plot_profile  # noqa: F401  (re-exported)
from kt_lib.notebook.recovery_plots import plot_relearning  # noqa: F401  (re-exported)
from kt_lib.notebook.score_plots import (  # noqa: F401  (re-exported)
    METRIC_LABELS,
    plot_concept_domains,
    plot_domain_gap,
    plot_leaderboard,
    plot_level_table,
    plot_metric_bars,
    plot_metric_lines,
    plot_scorecard,
)
from kt_lib.notebook.style import finish, legend_outside
from kt_lib.notebook.world_plots import (  # noqa: F401  (re-exported: plots.X is the notebooks' one namespace)
    draw_samples,
    plot_difficulty,
    plot_group_accuracy,
    plot_image_grid,
    plot_sibling_confusion,
)


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

    fig, (ax_l, ax_g) = plt.subplots(1, 2, figsize=(12, 3.8))
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
    legend_outside(ax_g)  # both panels draw the same series
    return finish(fig)


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
    fig, ax = plt.subplots(figsize=(8.5, 3.8))
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
    legend_outside(ax)
    return finish(fig)


def plot_collapse(
    df, before: dict, x: str = "num_steps", keys=tuple(_ACC_LABELS), title: str | None = None
):
    """Accuracies (%) after unlearning against a training budget `x` (one row of `df` per run, columns
    `after_*` as returned by `Experiment.run`); x = 0 is the original model (`before`)."""
    df = df.sort_values(x)
    fig, ax = plt.subplots(figsize=(9.5, 3.8))
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
    legend_outside(ax)
    return finish(fig)
