"""Figures of the world and of what a model knows: sample grids, per-group accuracy, sibling confusions,
difficulty levels (matplotlib; every function returns the Figure and never calls plt.show())."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from kt_lib.notebook.style import finish, legend_outside, pale, plural
from kt_lib.world.config import BREEDS, DOMAINS, WorldConfig, WorldTaxonomy
from kt_lib.world.data import load_pool


def draw_samples(
    breeds: list[str] | None = None,
    per_breed: int = 4,
    domains=DOMAINS,
    pool: str = "test",
    world: WorldConfig | None = None,
    columns: int = 8,
):
    """A grid of `per_breed` images of each domain for each breed (default: one breed per group), laid
    out `columns` tiles to a row. Each breed's block is named once ("breed (group)" over its first tile)
    and each domain once (over the domain's first tile); a block never wraps across rows."""
    world = world or WorldConfig()
    tax = WorldTaxonomy()
    breeds = breeds or [tax.children(g)[0] for g in tax.coarse]
    for b in breeds:
        tax.fine_index(b)  # unknown names raise with suggestions
    arrays = load_pool(world, pool)
    block = per_breed * len(domains)
    per_row = max(1, columns // block)
    rows = int(np.ceil(len(breeds) / per_row))
    fig, axes = plt.subplots(
        rows, per_row * block, figsize=(per_row * block * 1.6, rows * 2.0), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for k, b in enumerate(breeds):
        r, c0 = divmod(k, per_row)
        for j, dom in enumerate(domains):
            idx = np.flatnonzero(
                (arrays["fine"] == tax.fine_index(b)) & (arrays["domain"] == DOMAINS.index(dom))
            )[:per_breed]
            for t, i in enumerate(idx):
                ax = axes[r, c0 * block + j * per_breed + t]
                ax.imshow(arrays["images"][i], interpolation="nearest")
                if t == 0:
                    head = f"{b} ({BREEDS[b][0]})" if j == 0 else ""
                    ax.set_title(f"{head}\n{dom}", fontsize=9, loc="left")
    return finish(fig)


# --- ablations, OOD and leaderboards (notebooks 04-06) ----------------------------------------------------


def plot_group_accuracy(per_class, metrics=("fine", "coarse"), title: str | None = None):
    """Mean zero-shot accuracy (%) per coarse group, one bar per (domain, metric); `per_class` is
    `Evaluator.per_class(...)` (one row per domain and breed)."""
    import seaborn as sns

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
    cm = np.zeros((len(classes), len(classes) + 1))
    for i, c in enumerate(classes):
        p = pred[labels == c]
        for j, d in enumerate(classes):
            cm[i, j] = np.mean(p == d) if len(p) else np.nan
        cm[i, -1] = np.mean(~np.isin(p, classes)) if len(p) else np.nan
    cm *= 100
    names = [fine_names[c] for c in classes]
    fig, ax = plt.subplots(figsize=(0.9 * len(classes) + 3, 0.6 * len(classes) + 1.8))
    ticks = dict(xticklabels=names + ["elsewhere"], yticklabels=names, square=True)
    bar = dict(fraction=0.04, label="% of the true breed's images")
    sns.heatmap(
        cm, cmap="Blues", vmin=0, vmax=100, annot=True, fmt=".0f", cbar_kws=bar, ax=ax, **ticks
    )
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    ax.tick_params(axis="y", rotation=0)
    ax.set(
        xlabel="predicted breed",
        ylabel="true breed",
        title=title or "confusions between sibling breeds",
    )
    return finish(fig)


def plot_image_grid(
    images, titles=None, columns: int = 10, mean=None, std=None, title: str | None = None
):
    """A grid of preprocessed image tensors [N, 3, H, W] (un-normalised with CLIP's mean/std by default).
    A tile's title is shown only where it differs from the tile before it in the row (left-aligned, so
    a run of images of one concept is named once)."""
    import torch

    from kt_lib.world.data import CLIP_MEAN, CLIP_STD

    x = torch.as_tensor(images).detach().float().cpu()
    x = x * torch.tensor(std or CLIP_STD).view(1, 3, 1, 1) + torch.tensor(mean or CLIP_MEAN).view(
        1, 3, 1, 1
    )
    x = x.clamp(0, 1).permute(0, 2, 3, 1).numpy()
    rows = max(1, int(np.ceil(len(x) / columns)))
    lines = 1 + max((str(t).count("\n") for t in titles or []), default=0)
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * 1.4, rows * (1.3 + 0.18 * lines)), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.flat, x)):
        ax.imshow(img, interpolation="nearest")
        if titles is not None and (i % columns == 0 or titles[i] != titles[i - 1]):
            ax.set_title(titles[i], fontsize=9, loc="left")
    if title:
        fig.suptitle(title, fontsize=11)
    return finish(fig)


def plot_difficulty(per_class, levels: dict, domain: str = "photo", title: str | None = None):
    """Each breed's fine zero-shot accuracy (%) before unlearning, sorted and coloured by difficulty level
    (`kt_lib.eval.evaluator.difficulty_levels`); breeds in no level (barely known) are grey."""
    df = per_class[per_class.domain == domain].sort_values(
        ["fine", "concept"], kind="stable"
    )  # as difficulty_levels
    level_of = {c: lvl for lvl, names in levels.items() for c in names}
    names = list(levels)
    colors = [f"C{names.index(level_of[c])}" if c in level_of else "lightgrey" for c in df.concept]
    fig, ax = plt.subplots(figsize=(max(10, 0.17 * len(df) + 2.5), 5.2))
    ax.bar(range(len(df)), 100 * df.fine, color=colors)
    ax.set_xticks(range(len(df)), df.concept, rotation=90)
    ax.set_xlim(-0.7, len(df) - 0.3)
    handles = [
        Patch(color=f"C{i}", label=f"{lvl} ({plural(len(levels[lvl]), 'breed')})")
        for i, lvl in enumerate(names)
    ]
    ax.set(
        ylabel=f"fine accuracy before (%, {domain})",
        ylim=(0, 105),
        title=title
        or "difficulty levels: the better a breed is known, the harder to forget cleanly",
    )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False
    )
    return finish(fig)
