"""Figures, the notebooks' one namespace (`plots.X`): the losses and GA's collapse, the world and what a
model knows here, unlearning scores, collateral damage and relearning in `score_plots`. Every function
returns the Figure, never calls plt.show(), and follows `style` (text >= 9 pt, legends beside the data)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from kt_lib.notebook.score_plots import *  # noqa: F403 (plots.X is the notebooks' one namespace)
from kt_lib.notebook.style import finish, legend_outside, pale, plural
from kt_lib.world.config import BREEDS, DOMAINS, WorldConfig, WorldTaxonomy
from kt_lib.world.data import load_pool

_ACC_LABELS = {
    "after_forget_fine": "forget, fine (should fall)",
    "after_forget_coarse": "forget, coarse (keep)",
    "after_retain_fine": "retain, fine (keep)",
    "after_retain_coarse": "retain, coarse (keep)",
    "after_zero_shot": "zero-shot fruit/flower/vehicle (keep)",
}


def plot_loss_vs_gap(margins=(0.5, 1.0, 2.0, 5.0)):
    """NHL (each margin) and GA as a function of the target-logit gap s_y - max_{y'!=y} s_y' on synthetic
    logits over 56 classes (kt_lib.losses), with the gradient each passes to the target logit."""
    import torch

    from kt_lib.losses import ga, nhl

    gaps = np.linspace(-10, 4, 281)
    others = torch.full((len(gaps), 56), -5.0)
    others[:, 1] = 0.0  # the best other class sits at logit 0
    labels = torch.zeros(len(gaps), dtype=torch.long)

    def curve(fn):
        logits = others.clone()
        logits[:, 0] = torch.tensor(gaps, dtype=torch.float32)
        logits.requires_grad_(True)
        values = torch.stack([fn(logits[i : i + 1], labels[i : i + 1]) for i in range(len(gaps))])
        values.sum().backward()
        return values.detach().numpy(), logits.grad[:, 0].numpy()

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    colors = plt.cm.viridis(np.linspace(0.1, 0.85, len(margins)))
    series = [
        (lambda x, y, m=m: nhl(x, y, margin=float(m)), dict(color=c, label=f"NHL, margin {m:g}"))
        for m, c in zip(margins, colors)
    ]
    for fn, style in [*series, (ga, dict(color="crimson", lw=2, ls="--", label="GA (-CE)"))]:
        for ax, ys in zip(axes, curve(fn)):
            ax.plot(gaps, ys, **style)
    gap = "target-logit gap  $s_y - \\max_{y'\\neq y} s_{y'}$"
    axes[0].set(xlabel=gap, ylabel="loss", title="NHL stops at gap = -margin; GA keeps going")
    grad = dict(ylabel="d loss / d $s_y$", title="gradient on the target logit")
    axes[1].set(xlabel="target-logit gap", **grad)
    for ax in axes:
        ax.axvline(0, color="grey", lw=0.5)
        ax.axhline(0, color="grey", lw=0.5)
    legend_outside(axes[1])  # both panels draw the same series
    return finish(fig)


def plot_loss_curves(histories: dict, title: str | None = None):
    """Training loss per step for several runs (`{label: UnlearnResult.history}`); symlog y-axis so that a
    bounded loss near 0 and a runaway one far below 0 fit on one plot."""
    fig, ax = plt.subplots(figsize=(8.5, 3.8))
    for i, (label, hist) in enumerate(histories.items()):
        if len(hist) and "loss" in hist:
            ax.plot(hist["step"], hist["loss"], color=f"C{i}", lw=1.5, label=label)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.axhline(0, color="grey", lw=0.5)
    title = title or "unlearning loss per step"
    ax.set(xlabel="optimizer step", ylabel="loss (symlog scale)", title=title)
    legend_outside(ax)
    return finish(fig)


def plot_collapse(df, before: dict, title: str | None = None):
    """Accuracies (%) after unlearning against the training budget num_steps (one row of `df` per run,
    columns `after_*` as returned by `Experiment.run`); 0 steps is the original model (`before`)."""
    df = df.sort_values("num_steps")
    fig, ax = plt.subplots(figsize=(9.5, 3.8))
    for i, key in enumerate(k for k in _ACC_LABELS if k in df):
        ys = [100 * before[key[len("after_") :]], *(100 * df[key])]
        style = dict(color=f"C{i}", ls="-" if "forget_fine" in key else "--")
        ax.plot([0, *df.num_steps], ys, marker="o", label=_ACC_LABELS[key], **style)
    title = title or "accuracies as num steps grows"
    ax.set(xlabel="num steps", ylabel="accuracy (%)", ylim=(-3, 105), title=title)
    legend_outside(ax)
    return finish(fig)


def draw_samples(per_breed: int = 4, columns: int = 8):
    """A grid of `per_breed` test images of each domain for the first breed of each group, laid out
    `columns` tiles to a row. Each breed's block is named once ("breed (group)" over its first tile)
    and each domain once (over the domain's first tile); a block never wraps across rows."""
    tax = WorldTaxonomy()
    breeds = [tax.children(g)[0] for g in tax.coarse]
    arrays = load_pool(WorldConfig(), "test")
    block = per_breed * len(DOMAINS)
    per_row = max(1, columns // block)
    rows = int(np.ceil(len(breeds) / per_row))
    size = (per_row * block * 1.6, rows * 2.0)
    fig, axes = plt.subplots(rows, per_row * block, figsize=size, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, b in enumerate(breeds):
        r, c0 = divmod(k, per_row)
        for j, dom in enumerate(DOMAINS):
            mine = (arrays["fine"] == tax.fine_index(b)) & (arrays["domain"] == j)
            for t, i in enumerate(np.flatnonzero(mine)[:per_breed]):
                ax = axes[r, c0 * block + j * per_breed + t]
                ax.imshow(arrays["images"][i], interpolation="nearest")
                if t == 0:
                    head = f"{b} ({BREEDS[b][0]})" if j == 0 else ""
                    ax.set_title(f"{head}\n{dom}", fontsize=9, loc="left")
    return finish(fig)


def plot_group_accuracy(per_class, title: str | None = None):
    """Mean zero-shot accuracy (%) per coarse group, one bar per (domain, fine/coarse); `per_class` is
    `Evaluator.per_class(...)` (one row per domain and breed)."""
    import seaborn as sns  # the notebooks' extra: `kt world` draws samples without it

    metrics = ("fine", "coarse")
    long = per_class.melt(["domain", "group"], list(metrics), var_name="metric")
    long["series"], long["value"] = long.domain + ": " + long.metric, 100 * long.value
    palette = {  # colour: the domain; pale: the second metric
        f"{d}: {m}": f"C{i}" if m == metrics[0] else pale(f"C{i}")
        for i, d in enumerate(dict.fromkeys(per_class.domain))
        for m in metrics
    }
    fig, ax = plt.subplots(figsize=(max(9, 0.75 * per_class.group.nunique() + 2.5), 3.8))
    hue = dict(hue="series", hue_order=list(palette), palette=palette, errorbar=None, saturation=1)
    sns.barplot(long, x="group", y="value", ax=ax, **hue)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    ax.set(xlabel="", ylabel="zero-shot accuracy (%)", ylim=(0, 100), yticks=range(0, 101, 20))
    ax.set_title(title or "what the model knows, per group")
    legend_outside(ax)
    return finish(fig)


def plot_sibling_confusion(pred, labels, fine_names, classes: list[int], title: str | None = None):
    """Row-normalised confusion (%) among `classes` (e.g. one group's breeds), plus an 'elsewhere' column
    for predictions outside them. `pred`/`labels`: fine predictions and true labels (tensors or arrays)."""
    import seaborn as sns

    pred, labels = np.asarray(pred), np.asarray(labels)
    cm = np.full((len(classes), len(classes) + 1), np.nan)
    for i, c in enumerate(classes):
        p = pred[labels == c]
        if len(p):
            cm[i] = [*(np.mean(p == d) for d in classes), np.mean(~np.isin(p, classes))]
    names = [fine_names[c] for c in classes]
    fig, ax = plt.subplots(figsize=(0.9 * len(classes) + 3, 0.6 * len(classes) + 1.8))
    ticks = dict(xticklabels=names + ["elsewhere"], yticklabels=names, square=True)
    cells = dict(cmap="Blues", vmin=0, vmax=100, annot=True, fmt=".0f")
    bar = dict(fraction=0.04, label="% of the true breed's images")
    sns.heatmap(100 * cm, cbar_kws=bar, ax=ax, **cells, **ticks)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    ax.tick_params(axis="y", rotation=0)
    title = title or "confusions between sibling breeds"
    ax.set(xlabel="predicted breed", ylabel="true breed", title=title)
    return finish(fig)


def plot_image_grid(images, titles=None, columns: int = 10, title: str | None = None):
    """A grid of preprocessed image tensors [N, 3, H, W] (un-normalised with CLIP's mean/std).
    A tile's title is shown only where it differs from the tile before it in the row (left-aligned, so
    a run of images of one concept is named once)."""
    import torch

    from kt_lib.world.data import CLIP_MEAN, CLIP_STD

    x = torch.as_tensor(images).detach().float().cpu()
    std, mean = (torch.tensor(v).view(1, 3, 1, 1) for v in (CLIP_STD, CLIP_MEAN))
    x = (x * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    rows = max(1, int(np.ceil(len(x) / columns)))
    lines = 1 + max((str(t).count("\n") for t in titles or []), default=0)
    size = (columns * 1.4, rows * (1.3 + 0.18 * lines))
    fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.flat, x)):
        ax.imshow(img, interpolation="nearest")
        if titles is not None and (i % columns == 0 or titles[i] != titles[i - 1]):
            ax.set_title(titles[i], fontsize=9, loc="left")
    if title:
        fig.suptitle(title, fontsize=11)
    return finish(fig)


def plot_difficulty(per_class, levels: dict):
    """Each breed's fine zero-shot photo accuracy (%) before unlearning, sorted and coloured by difficulty
    level (`kt_lib.eval.evaluator.difficulty_levels`); breeds in no level (barely known) are grey."""
    df = per_class[per_class.domain == "photo"].sort_values(["fine", "concept"], kind="stable")
    level_of = {c: i for i, names in enumerate(levels.values()) for c in names}
    colors = [f"C{level_of[c]}" if c in level_of else "lightgrey" for c in df.concept]
    fig, ax = plt.subplots(figsize=(max(10, 0.17 * len(df) + 2.5), 5.2))
    ax.bar(range(len(df)), 100 * df.fine, color=colors)
    ax.set_xticks(range(len(df)), df.concept, rotation=90)
    ax.set_xlim(-0.7, len(df) - 0.3)
    title = "difficulty levels: the better a breed is known, the harder to forget cleanly"
    ax.set(ylabel="fine accuracy before (%, photo)", ylim=(0, 105), title=title)
    handles = [
        Patch(color=f"C{i}", label=f"{lvl} ({plural(len(names), 'breed')})")
        for i, (lvl, names) in enumerate(levels.items())
    ]
    place = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    ax.legend(handles=handles, **place)
    return finish(fig)
