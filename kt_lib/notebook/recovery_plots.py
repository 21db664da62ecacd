"""Relearning curves (`kt_lib.recovery`): forgotten accuracy against fine-tuning steps, one line per model."""

from __future__ import annotations

import matplotlib.pyplot as plt

from kt_lib.notebook.style import finish, legend_outside


def plot_relearning(frame, original_accuracy: float | None = None, title: str | None = None):
    """One panel per (attack, k) of `recovery.curves`' frame: forget_fine after each relearning step
    (symlog step axis, so step 0 shows), a line per model; a dotted line at half the original accuracy."""
    panels = list(frame.groupby(["attack", "k"], sort=False))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.6 * len(panels) + 2.2, 3.4), sharey=True, squeeze=False
    )
    models = list(dict.fromkeys(frame.model))
    for ax, ((attack, k), g) in zip(axes[0], panels):
        for i, model in enumerate(models):
            m = g[g.model == model].sort_values("step")
            ax.plot(m.step, m.forget_fine, "o-", color=f"C{i}", lw=1.5, ms=4, label=model)
        if original_accuracy is not None:
            ax.axhline(original_accuracy / 2, color="grey", ls=":", lw=1, label="half the original")
        ax.set_xscale("symlog", linthresh=1)
        ax.set(
            xlabel="relearning steps",
            title=f"{attack}: k={k} / concept",
            ylim=(-0.03, 1.03),
        )
    axes[0][0].set_ylabel("forgotten breeds' accuracy")
    legend_outside(axes[0][-1])
    if title:
        fig.suptitle(title)
    return finish(fig)
