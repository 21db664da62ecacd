"""Figures (matplotlib; every function returns the Figure and never calls plt.show())."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .data import load_pool
from .world import BREEDS, DOMAINS, WorldConfig, WorldTaxonomy


def draw_samples(breeds: list[str] | None = None, per_breed: int = 4, domains=DOMAINS, pool: str = "test",
                 world: WorldConfig | None = None, columns: int = 8):
    """A labelled grid: for each breed, `per_breed` images of each domain (default: one breed per group)."""
    world = world or WorldConfig()
    tax = WorldTaxonomy()
    breeds = breeds or [tax.children(g)[0] for g in tax.coarse]
    for b in breeds:
        tax.fine_index(b)  # unknown names raise with suggestions
    arrays = load_pool(world, pool)
    tiles, titles = [], []
    for b in breeds:
        for dom in domains:
            idx = np.flatnonzero((arrays["fine"] == tax.fine_index(b)) & (arrays["domain"] == DOMAINS.index(dom)))
            for i in idx[:per_breed]:
                tiles.append(arrays["images"][i])
                titles.append(f"{b}\n({BREEDS[b][0]}, {dom})")
    rows = int(np.ceil(len(tiles) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, tile, title in zip(axes.flat, tiles, titles):
        ax.imshow(tile, interpolation="nearest")
        ax.set_title(title, fontsize=6)
    fig.tight_layout()
    return fig


# --- ablations, OOD and leaderboards (notebooks 04-06) ----------------------------------------------------

_METRIC_LABELS = {"Q": "Q (forgetting)", "U": "U (utility)", "QU": "Q-U (harmonic mean)",
                  "drawing_Q": "Q on drawings (OOD)", "drawing_U": "U on drawings (OOD)", "drawing_QU": "Q-U on drawings (OOD)",
                  "zero_shot_utility": "zero-shot utility", "after_forget_coarse": "forget coarse acc. (after)",
                  "after_retain_fine": "retain fine acc. (after)", "after_retain_coarse": "retain coarse acc. (after)"}


def plot_loss_vs_gap(margins=(0.5, 1.0, 2.0, 5.0), gaps=None, num_classes: int = 56):
    """NHL (each margin) and GA as a function of the target-logit gap s_y - max_{y'!=y} s_y' on synthetic
    logits (kt_lib.losses), with the gradient each passes to the target logit."""
    import torch

    from .losses import ga, nhl

    gaps = np.linspace(-10, 4, 281) if gaps is None else np.asarray(gaps, dtype=float)
    others = torch.full((len(gaps), num_classes), -5.0)
    others[:, 1] = 0.0                                     # the best other class sits at logit 0
    labels = torch.zeros(len(gaps), dtype=torch.long)

    def curve(fn):
        logits = others.clone()
        logits[:, 0] = torch.tensor(gaps, dtype=torch.float32)
        logits.requires_grad_(True)
        values = torch.stack([fn(logits[i:i + 1], labels[i:i + 1]) for i in range(len(gaps))])
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
    ax_l.set(xlabel="target-logit gap  $s_y - \\max_{y'\\neq y} s_{y'}$", ylabel="loss",
             title="NHL stops at gap = -margin; GA keeps going")
    ax_g.set(xlabel="target-logit gap", ylabel="d loss / d $s_y$", title="gradient on the target logit")
    for ax in (ax_l, ax_g):
        ax.axvline(0, color="grey", lw=0.5)
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_metric_lines(df, x: str, metrics=("Q", "U", "QU"), hue: str | None = None, logx: bool = False,
                      title: str | None = None, ax=None):
    """One line per metric (and per `hue` group) against setting `x`; y in [0, 1]."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.5, 3.6))
    styles = ["-", "--", ":", "-."]
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    for gi, (name, g) in enumerate(groups):
        g = g.sort_values(x)
        for mi, m in enumerate(metrics):
            label = _METRIC_LABELS.get(m, m) + ("" if name is None else f" - {name}")
            ax.plot(g[x], g[m], marker="o", ls=styles[gi % len(styles)], color=f"C{mi}", label=label)
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=x, ylabel="score (fraction)", ylim=(-0.05, 1.05), title=title or f"scores vs {x}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_metric_bars(df, label: str = "label", metrics=("Q", "U", "QU"), title: str | None = None, ax=None):
    """Grouped bars: one group per row of `df` (named by `label`), one bar per metric, values printed."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(max(5, 1.4 * len(df)), 3.6))
    width = 0.8 / len(metrics)
    xs = np.arange(len(df))
    for i, m in enumerate(metrics):
        bars = ax.bar(xs + (i - (len(metrics) - 1) / 2) * width, df[m], width, label=_METRIC_LABELS.get(m, m))
        ax.bar_label(bars, fmt="%.2f", fontsize=6)
    ax.set_xticks(xs, df[label], fontsize=8)
    ncol = min(len(metrics), 3)
    ax.set(ylabel="score (fraction)", ylim=(0, 1.08 + 0.1 * -(-len(metrics) // ncol)), title=title or "")
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
        ax_q.plot(g[x], g["drawing_Q"], marker="s", ls="--", color=f"C{i}", label=f"{name}: drawing Q (OOD)")
        ax_u.plot(g[x], g["U"], marker="o", color=f"C{i}", label=f"{name}: U")
    for ax in (ax_q, ax_u):
        if logx:
            ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=7)
    ax_q.set(xlabel=x, ylabel="Q = 1 - acc_after/acc_before", title="forgetting: photos (unlearned) vs drawings")
    ax_u.set(xlabel=x, ylabel="U", title="utility (photos)")
    fig.tight_layout()
    return fig


def plot_concept_domains(cf, title: str | None = None):
    """Per forgotten concept: fine accuracy before and after unlearning, photo vs drawing domain
    (`cf`: rows of kt_lib.sweeps.concept_frame for one run)."""
    concepts = list(dict.fromkeys(cf.concept))
    domains = list(dict.fromkeys(cf.domain))
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(concepts)), 3.6))
    width = 0.8 / (2 * len(domains))
    xs = np.arange(len(concepts))
    k = 0
    for d in domains:
        sub = cf[cf.domain == d].set_index("concept").reindex(concepts)
        for when, alpha in (("before", 0.35), ("after", 1.0)):
            ax.bar(xs + (k - (2 * len(domains) - 1) / 2) * width, sub[when], width, alpha=alpha,
                   color="C0" if d == "photo" else "C1", label=f"{d}, {when}")
            k += 1
    ax.set_xticks(xs, concepts, fontsize=7, rotation=15)
    ax.set(ylabel="fine (breed) accuracy", ylim=(0, 1.05), title=title or "per concept: before vs after, by domain")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_leaderboard(agg, metric: str = "QU", paper: dict | None = None, paper_label: str = "paper",
                     title: str | None = None, ax=None):
    """Horizontal bars of `metric` per method with CI whiskers (`<metric>_ci` from kt_lib.sweeps.aggregate,
    fractions); `paper` (method -> value in percent) is drawn as labelled black diamonds."""
    agg = agg.sort_values(metric)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 0.45 * len(agg) + 1.5))
    ci = agg.get(f"{metric}_ci")
    err = None if ci is None else np.nan_to_num(100 * ci.to_numpy(dtype=float))
    ys = np.arange(len(agg))
    ax.barh(ys, 100 * agg[metric], xerr=err, capsize=3, color="C0", alpha=0.8, label="ours (mean, 95% CI)")
    if paper:
        pts = [(y, paper[m]) for y, m in zip(ys, agg.method) if m in paper]
        if pts:
            ax.plot([p[1] for p in pts], [p[0] for p in pts], "D", color="black", label=paper_label)
    ax.set_yticks(ys, agg.method)
    ax.set(xlabel=f"{_METRIC_LABELS.get(metric, metric)} (%)", xlim=(0, 105), title=title or "leaderboard")
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

    df = pd.DataFrame([dict(label=k, **{m: float(v.get(m, np.nan)) for m in metrics}) for k, v in entries.items()])
    return plot_metric_bars(df, "label", metrics, title=title)


# --- the world, the proxy set and GA's collapse (notebooks 00-03) -----------------------------------------

_ACC_LABELS = {"after_forget_fine": "forget, fine (should fall)", "after_forget_coarse": "forget, coarse (keep)",
               "after_retain_fine": "retain, fine (keep)", "after_retain_coarse": "retain, coarse (keep)",
               "after_zero_shot": "zero-shot fruit/flower/vehicle (keep)"}


def plot_group_accuracy(per_class, metrics=("fine", "coarse"), title: str | None = None):
    """Mean zero-shot accuracy (%) per coarse group, one bar per (domain, metric); `per_class` is
    `Evaluator.per_class(...)` (one row per domain and breed)."""
    groups = list(dict.fromkeys(per_class.group))
    domains = list(dict.fromkeys(per_class.domain))
    mean = per_class.groupby(["domain", "group"])[list(metrics)].mean()
    fig, ax = plt.subplots(figsize=(max(7, 0.75 * len(groups)), 3.8))
    combos = [(d, m) for d in domains for m in metrics]
    width, xs = 0.8 / len(combos), np.arange(len(groups))
    for k, (d, m) in enumerate(combos):
        vals = [100 * mean.loc[(d, g), m] if (d, g) in mean.index else np.nan for g in groups]
        ax.bar(xs + (k - (len(combos) - 1) / 2) * width, vals, width, color=f"C{domains.index(d)}",
               alpha=1.0 if m == metrics[0] else 0.45, label=f"{d}: {m}")
    ax.set_xticks(xs, groups, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="zero-shot accuracy (%)", ylim=(0, 122), title=title or "what the model knows, per group")
    ax.set_yticks(range(0, 101, 20))
    ax.legend(fontsize=7, ncol=len(combos), loc="upper center")
    fig.tight_layout()
    return fig


def plot_sibling_confusion(pred, labels, fine_names, classes: list[int], title: str | None = None):
    """Row-normalised confusion (%) among `classes` (e.g. one group's breeds), plus an 'elsewhere' column
    for predictions outside them. `pred`/`labels`: fine predictions and true labels (tensors or arrays)."""
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
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=100)
    ax.set_xticks(range(len(classes) + 1), names + ["elsewhere"], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), names, fontsize=8)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j] == cm[i, j]:
                ax.text(j, i, f"{cm[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > 60 else "black")
    ax.set(xlabel="predicted breed", ylabel="true breed", title=title or "confusions between sibling breeds")
    fig.colorbar(im, ax=ax, fraction=0.04, label="% of the true breed's images")
    fig.tight_layout()
    return fig


def plot_image_grid(images, titles=None, columns: int = 10, mean=None, std=None, title: str | None = None):
    """A grid of preprocessed image tensors [N, 3, H, W] (un-normalised with CLIP's mean/std by default)."""
    import torch

    from .data import CLIP_MEAN, CLIP_STD

    x = torch.as_tensor(images).detach().float().cpu()
    x = x * torch.tensor(std or CLIP_STD).view(1, 3, 1, 1) + torch.tensor(mean or CLIP_MEAN).view(1, 3, 1, 1)
    x = x.clamp(0, 1).permute(0, 2, 3, 1).numpy()
    rows = max(1, int(np.ceil(len(x) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.25, rows * 1.45), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.flat, x)):
        ax.imshow(img, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=6)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_difficulty(per_class, levels: dict, domain: str = "photo", title: str | None = None):
    """Each breed's fine zero-shot accuracy (%) before unlearning, sorted and coloured by difficulty level
    (`kt_lib.evaluation.difficulty_levels`); breeds in no level (barely known) are grey."""
    df = per_class[per_class.domain == domain].sort_values(["fine", "concept"], kind="stable")  # as difficulty_levels
    level_of = {c: lvl for lvl, names in levels.items() for c in names}
    names = list(levels)
    colors = [f"C{names.index(level_of[c])}" if c in level_of else "lightgrey" for c in df.concept]
    fig, ax = plt.subplots(figsize=(max(8, 0.16 * len(df)), 3.6))
    ax.bar(range(len(df)), 100 * df.fine, color=colors)
    ax.set_xticks(range(len(df)), df.concept, rotation=90, fontsize=5)
    for i, lvl in enumerate(names):
        ax.bar([0], [0], color=f"C{i}", label=f"{lvl} ({len(levels[lvl])} breeds)")
    ax.set(ylabel=f"fine accuracy before (%, {domain})", ylim=(0, 105),
           title=title or "difficulty levels: the better a breed is known, the harder to forget cleanly")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_loss_curves(histories: dict, column: str = "loss", title: str | None = None):
    """Training loss per step for several runs (`{label: UnlearnResult.history}`); symlog y-axis so that a
    bounded loss near 0 and a runaway one far below 0 fit on one plot."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (label, hist) in enumerate(histories.items()):
        if len(hist) and column in hist:
            ax.plot(hist["step"], hist[column], color=f"C{i}", lw=1.5, label=label)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set(xlabel="optimizer step", ylabel=f"{column} (symlog scale)", title=title or "unlearning loss per step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_collapse(df, before: dict, x: str = "num_epochs", keys=tuple(_ACC_LABELS), title: str | None = None):
    """Accuracies (%) after unlearning against a training budget `x` (one row of `df` per run, columns
    `after_*` as returned by `Experiment.run`); x = 0 is the original model (`before`)."""
    df = df.sort_values(x)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, key in enumerate(k for k in keys if k in df):
        xs = [0, *df[x]]
        ys = [100 * before[key[len("after_"):]], *(100 * df[key])]
        ax.plot(xs, ys, marker="o", color=f"C{i}", ls="-" if "forget_fine" in key else "--",
                label=_ACC_LABELS.get(key, key))
    ax.set(xlabel=x.replace("_", " "), ylabel="accuracy (%)", ylim=(-3, 105),
           title=title or f"accuracies as {x.replace('_', ' ')} grows")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
