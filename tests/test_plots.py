"""Every plotting function, drawn on sample data: no text below 9 pt, no legend over the data, tick
labels or titles, intervals inside the axis, and the checker itself fails on a figure that breaks them."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from kt_lib.notebook import plots  # noqa: E402
from kt_lib.notebook.style import MIN_FONT, plural  # noqa: E402
from kt_lib.world.config import WorldTaxonomy  # noqa: E402

RNG = np.random.default_rng(0)
BREEDS = ["Samoyed", "beagle", "golden retriever", "German short-haired pointer"]


def _rows(n=4):
    return pd.DataFrame(
        dict(
            label=[f"run {i}\n(margin {m:g})" for i, m in enumerate([0.5, 1, 2, 5][:n])],
            margin=[0.5, 1.0, 2.0, 5.0][:n],
            method=["nhl_kl", "nhl_kl", "ga", "ga"][:n],
            lr=[1e-4, 2e-4, 1e-4, 2e-4][:n],
            Q=RNG.uniform(0.5, 1.0, n),
            U=RNG.uniform(0.0, 1.0, n),
            QU=RNG.uniform(0.0, 1.0, n),
            drawing_Q=RNG.uniform(0.0, 1.0, n),
            zero_shot_utility=RNG.uniform(0.8, 1.0, n),
            after_forget_coarse=RNG.uniform(0.0, 1.0, n),
            after_retain_fine=RNG.uniform(0.0, 1.0, n),
        )
    )


def _concepts():
    return pd.DataFrame(
        [
            dict(concept=c, domain=d, before=0.9, after=0.0 if d == "photo" else 0.4)
            for c in BREEDS
            for d in ("photo", "drawing")
        ]
    )


def _per_class():
    groups = ["retriever", "spitz", "hound", "pointer", "terrier", "setter", "spaniel"]
    names = [f"breed {i:02d}" for i in range(56)]
    return pd.DataFrame(
        [
            dict(concept=n, group=groups[i % 7], domain=d, fine=RNG.uniform(), coarse=RNG.uniform())
            for i, n in enumerate(names)
            for d in ("photo", "drawing")
        ]
    )


def _leaderboard(n_runs=2):
    return pd.DataFrame(
        dict(
            method=["nhl_kl", "npo_kl", "ga_kl", "ga"],
            QU=[0.97, 0.93, 0.5, 0.03],
            QU_ci=[0.4, 0.1, 0.3, float("nan")],
            n=[n_runs] * 4,
        )
    )


def _figures():
    per_class = _per_class()
    history = pd.DataFrame(dict(step=np.arange(20), loss=-np.arange(20.0)))
    collapse = pd.DataFrame(
        dict(
            num_steps=[4, 8, 16],
            after_forget_fine=[0.5, 0.1, 0.0],
            after_forget_coarse=[0.9, 0.5, 0.1],
            after_retain_fine=[0.9, 0.6, 0.2],
            after_retain_coarse=[0.95, 0.7, 0.3],
            after_zero_shot=[0.9, 0.8, 0.4],
        )
    )
    before = dict(
        forget_fine=0.9, forget_coarse=0.95, retain_fine=0.9, retain_coarse=0.95, zero_shot=0.9
    )
    levels = {"easy": ["breed 01", "breed 02"], "difficult": ["breed 03"]}
    yield "loss_vs_gap", lambda: plots.plot_loss_vs_gap(margins=(0.5, 2.0, 5.0))
    rng = np.random.default_rng(0)
    yield (
        "distributions",
        lambda: plots.plot_distributions(
            {"members": rng.normal(0, 1, 200), "non-members": rng.normal(0.2, 1, 200)},
            "log-probability of the breed",
            title="membership scores",
        ),
    )
    yield "metric_lines", lambda: plots.plot_metric_lines(_rows(), "margin", title="scores")
    yield (
        "metric_lines_hue",
        lambda: plots.plot_metric_lines(_rows(), "lr", hue="method", logx=True),
    )
    yield (
        "metric_bars",
        lambda: plots.plot_metric_bars(
            _rows(), "label", ("Q", "U", "QU", "after_forget_coarse", "after_retain_fine")
        ),
    )
    yield "domain_gap", lambda: plots.plot_domain_gap(_rows())
    yield "concept_domains", lambda: plots.plot_concept_domains(_concepts(), title="per breed")
    yield (
        "leaderboard",
        lambda: plots.plot_leaderboard(_leaderboard(), paper={"nhl_kl": 95.2, "ga": 11.85}),
    )
    yield (
        "level_table",
        lambda: plots.plot_level_table(
            pd.DataFrame(
                [[93.3, 91.7], [40.0, float("nan")]], ["nhl_kl", "ga"], ["easy", "difficult"]
            )
        ),
    )
    yield (
        "scorecard",
        lambda: plots.plot_scorecard(
            {"cached: nhl_kl\n(margin 2)": dict(Q=1, U=0.9, QU=0.95), "rerun": dict(Q=0.5, U=1)},
            metrics=("Q", "U", "QU", "Q (Samoyed)"),
        ),
    )
    yield "loss_curves", lambda: plots.plot_loss_curves({"GA": history, "NHL": history / 2})
    yield "collapse", lambda: plots.plot_collapse(collapse, before)
    yield "group_accuracy", lambda: plots.plot_group_accuracy(per_class)
    yield (
        "sibling_confusion",
        lambda: plots.plot_sibling_confusion(
            RNG.integers(0, 6, 200), RNG.integers(0, 4, 200), BREEDS + ["x", "y"], [0, 1, 2, 3]
        ),
    )
    yield (
        "image_grid",
        lambda: plots.plot_image_grid(
            RNG.normal(size=(16, 3, 8, 8)),
            [BREEDS[i // 8] for i in range(16)],
            columns=8,
            title="t",
        ),
    )
    yield "difficulty", lambda: plots.plot_difficulty(per_class, levels)
    yield "collateral_profile", lambda: plots.plot_profile(_profile(), title="accuracy change")


def _profile():
    """A collateral profile as notebook 07 draws it (kt_lib.eval.collateral.aggregate's columns): four
    methods, two domains, the forgotten set down to the zero-shot families, drops down to -100 points."""
    relations = ["forgotten", "siblings", "cousins", "zero-shot"]
    drop = {"ga": 0.9, "nhl": 0.6, "nhl_kl": 0.2, "nhl_kl (alpha_f=0)": 0.4}
    rows = []
    for label, k in drop.items():
        for domain, scale in (("photo", 1.0), ("drawing", 0.5)):
            for d, rel in enumerate(relations):
                change = -scale * (1.0 if d == 0 else k * (0.9 - 0.2 * d))
                rows.append(
                    dict(
                        label=label,
                        domain=domain,
                        distance=d,
                        relation=rel,
                        n=2,
                        fine_change=change,
                        fine_change_ci=0.05,
                        coarse_change=change / 2,
                        coarse_change_ci=0.05,
                    )
                )
    return pd.DataFrame(rows)


def _data_boxes(ax, renderer):
    """Display-space boxes of what an axes draws: bar rectangles, line points, interval segments,
    images and the texts placed in it (value labels, annotations)."""
    from matplotlib.transforms import Bbox

    boxes = []
    for a in ax.patches:
        if isinstance(a, Rectangle) and a.get_visible() and a.get_width() and a.get_height():
            boxes.append(a.get_window_extent(renderer))
    for line in ax.lines:
        xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy):
            for p in line.get_transform().transform(xy):
                boxes.append(Bbox.from_bounds(p[0] - 2, p[1] - 2, 4, 4))
    for c in ax.collections:
        if isinstance(c, LineCollection):
            for seg in c.get_segments():
                boxes.append(Bbox(c.get_transform().transform(seg)))
    boxes += [im.get_window_extent(renderer) for im in ax.images]
    boxes += [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
    return boxes


def _label_boxes(fig, renderer):
    """Tick labels, axis labels and titles of every axes."""
    out = []
    for ax in fig.axes:
        texts = ax.get_xticklabels() + ax.get_yticklabels()
        texts += [ax.xaxis.label, ax.yaxis.label, ax.title, ax._left_title, ax._right_title]
        out += [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]
    return out


def problems(fig) -> list[str]:
    """What makes `fig` hard to read: text below MIN_FONT, a legend over data or labels or outside the
    figure, an interval whisker past its axis limits."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < MIN_FONT:
            out.append(f"text {t.get_text()!r} at {t.get_fontsize():g} pt")
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    page = fig.bbox.padded(1)
    labels = _label_boxes(fig, renderer)
    for leg in legends:
        box = leg.get_window_extent(renderer)
        if not (page.contains(box.x0, box.y0) and page.contains(box.x1, box.y1)):
            out.append("legend extends past the figure")
        for ax in fig.axes:
            if any(box.overlaps(b) for b in _data_boxes(ax, renderer)):
                out.append(f"legend overlaps the data of axes {ax.get_title()!r}")
        if any(box.overlaps(b) for b in labels):
            out.append("legend overlaps a tick label, axis label or title")
    for ax in fig.axes:
        lo, hi = sorted(ax.get_xlim())
        for c in ax.collections:
            if isinstance(c, LineCollection):
                xs = np.concatenate([s[:, 0] for s in c.get_segments()] or [np.zeros(0)])
                if len(xs) and (xs.min() < lo - 1e-9 or xs.max() > hi + 1e-9):
                    out.append(f"an interval runs past the x axis [{lo:g}, {hi:g}]")
    return out


@pytest.mark.parametrize("name,make", list(_figures()), ids=[n for n, _ in _figures()])
def test_figure_is_readable(name, make):
    fig = make()
    try:
        assert problems(fig) == [], name
    finally:
        plt.close(fig)


def test_checker_catches_a_legend_over_the_data_and_small_text():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.bar([0.5], [0.6], width=0.4, label="bar")
    ax.errorbar([0.5], [0.5], xerr=[[0.1], [2.0]], label="interval")
    ax.set_xlim(0, 1)
    ax.legend(loc="center", fontsize=6)
    found = problems(fig)
    plt.close(fig)
    assert any("overlaps the data" in p for p in found)
    assert any("at 6 pt" in p for p in found)
    assert any("interval runs past" in p for p in found)


def test_leaderboard_whiskers_stop_at_100_and_say_so():
    fig = plots.plot_leaderboard(_leaderboard())
    ax = fig.axes[0]
    assert "clipped" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    segs = np.concatenate(
        [c.get_segments() for c in ax.collections if isinstance(c, LineCollection)]
    )
    assert segs[..., 0].max() <= 100 and segs[..., 0].min() >= 0
    plt.close(fig)


def test_legend_leaves_out_a_series_that_drew_nothing():
    cf = _concepts()
    cf.loc[cf.domain == "drawing", "after"] = float("nan")
    fig = plots.plot_concept_domains(cf)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "drawing, after" not in texts and "photo, after" in texts
    plt.close(fig)


def test_plural():
    assert plural(1, "run") == "1 run" and plural(2, "run") == "2 runs"
    assert plural(3, "breed") == "3 breeds"


def test_draw_samples_names_each_breed_once():
    fig = plots.draw_samples(per_breed=2, columns=8)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    breeds = [t.split("\n")[0] for t in titles if t.split("\n")[0]]
    groups = WorldTaxonomy().coarse
    assert len(breeds) == len(set(breeds)) == len(groups)  # one block per group's breed, named once
    assert problems(fig) == []
    plt.close(fig)
