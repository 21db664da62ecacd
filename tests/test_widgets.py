"""kt_lib.notebook.widgets: panels build headlessly and their callbacks render from cached rows without training."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from kt_lib.notebook import widgets  # noqa: E402


def _row(method="nhl_kl", margin=2.0, ac=10.0, af=20.0, lr=2e-4, q=1.0, u=0.9, dq=0.9, label=None):
    per = [
        dict(concept=c, group="g", domain=d, before=0.8, after=a)
        for c in ("Samoyed", "beagle")
        for d, a in (("photo", 0.0), ("drawing", 0.2))
    ]
    return dict(
        label=label or method,
        method=method,
        margin=margin,
        alpha_coarse=ac,
        alpha_fine=af,
        lr=lr,
        num_epochs=8,
        seed=0,
        Q=q,
        U=u,
        QU=2 * q * u / (q + u),
        drawing_Q=dq,
        per_concept=per,
    )


ROWS = [_row(margin=m) for m in (0.5, 1.0, 2.0, 5.0)] + [
    _row(ac=0.0, af=0.0, u=0.5, label="none"),
    _row("ga", u=0.2, label="GA"),
]


ROWS += [_row(ac=10.0, af=0.0, u=0.7, label="coarse only")]


def _bars(fig):
    """Bar heights of a figure's first axes, rounded."""
    return [round(float(p.get_height()), 6) for p in fig.axes[0].patches]


def _drawn(shown):
    """What a learner sees: title, legend and bar heights of a figure, or the text shown instead."""
    if not isinstance(shown, plt.Figure):
        return ("text", str(shown.data))
    ax = shown.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else []
    return ("figure", ax.get_title(), legend, _bars(shown))


def _neighbour(control):
    """The value a slider's right arrow (or, at its right end, left arrow) moves to."""
    values = (
        [v for _, v in control.options]
        if isinstance(control.options[0], tuple)
        else list(control.options)
    )
    i = values.index(control.value)
    return values[i + 1] if i + 1 < len(values) else values[i - 1]


DEFAULT = dict(method="nhl_kl", margin=2.0, alpha_coarse=10.0, alpha_fine=20.0)


def _live(calls=None, cached=()):
    """A live ablation panel whose run function records each training call (settings not in `cached`)."""
    calls = [] if calls is None else calls
    seen = set(cached)

    def run(**kw):
        key = tuple(sorted(kw.items()))
        if key not in seen:
            calls.append(kw)
            seen.add(key)
        q = 1.0 - 0.1 * kw["margin"] / 5
        return _row(kw["method"], kw["margin"], kw["alpha_coarse"], kw["alpha_fine"], q=q, u=0.5)

    panel = widgets.ablation_panel(
        run,
        ["nhl_kl", "ga"],
        ["Samoyed", "beagle"],
        DEFAULT,
        is_cached=lambda **kw: tuple(sorted(kw.items())) in seen,
    )
    return panel, calls


def test_ablation_panel_trains_any_combination_and_draws_it_beside_the_default():
    """Any grid combination (not only one knob at a time) is trained at exactly those settings and drawn
    beside the paper's default; the title names both; a setting is trained once."""
    panel, calls = _live()
    sliders = {k: c for k, c in panel.controls.items() if isinstance(c, W.SelectionSlider)}
    assert set(sliders) == {"margin", "alpha_coarse", "alpha_fine"}
    assert not any(s.continuous_update for s in sliders.values())
    assert [v for _, v in sliders["margin"].options] == list(widgets.ABLATION_GRID["margin"])
    fig = panel.render(margin=0.5, alpha_fine=0.0)
    mine = dict(method="nhl_kl", margin=0.5, alpha_coarse=10.0, alpha_fine=0.0)
    assert mine in calls and DEFAULT in calls
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[0].startswith("default setting") and labels[1].startswith("your setting")
    title = fig.axes[0].get_title()
    assert title.startswith("nhl_kl, margin 0.5, alpha_coarse 10, alpha_fine 0")
    assert "vs  nhl_kl, margin 2, alpha_coarse 10, alpha_fine 20" in title
    plt.close(fig)
    n = len(calls)
    plt.close(
        panel.render(margin=0.5, alpha_fine=0.0)
    )  # back to a setting already run: no training
    assert len(calls) == n
    fig = panel.render()  # the default alone: one group of bars
    assert len(fig.axes[0].get_xticklabels()) == 1
    plt.close(fig)


def test_each_ablation_control_changes_what_is_drawn_from_the_defaults():
    panel, _ = _live()
    start = _drawn(panel.render())
    assert start[0] == "figure"
    for name, control in panel.controls.items():
        if isinstance(control, W.Dropdown):
            other = next(o for o in control.options if o != control.value)
        else:
            other = _neighbour(control)
        shown = panel.render(**{name: other})
        assert _drawn(shown) != start, name
        if isinstance(shown, plt.Figure):
            plt.close(shown)


def test_ablation_panel_says_running_only_while_a_setting_trains():
    panel, _ = _live()
    assert panel.pending(**{**panel.values(), "margin": 5.0}).startswith("running nhl_kl, margin 5")
    plt.close(panel.render(margin=5.0))
    assert panel.pending(**{**panel.values(), "margin": 5.0}) is None


def _live_ood(calls):
    def run(method, lr):
        calls.append((method, lr))
        return _row(method, lr=lr, dq=0.5 + lr * 1000)

    seen = set()
    grid = widgets.strength_grid(1e-4, swept=(3e-4,))
    cached = lambda method, lr: (method, lr) in seen  # noqa: E731
    panel = widgets.ood_panel(run, ["nhl_kl", "ga"], grid, dict(method="nhl_kl", lr=1e-4), cached)
    return panel, seen


def test_strength_grid_doubles_around_the_notebooks_lr_and_keeps_the_swept_ones():
    assert widgets.strength_grid(2e-4, swept=(1e-4, 3e-4)) == [5e-5, 1e-4, 2e-4, 3e-4, 4e-4, 8e-4]


def test_ood_panel_trains_the_chosen_strength_and_draws_exactly_it():
    calls = []
    panel, seen = _live_ood(calls)
    assert panel.controls["lr"].value == 1e-4 and isinstance(
        panel.controls["lr"], W.SelectionSlider
    )
    assert [v for _, v in panel.controls["lr"].options] == [2.5e-5, 5e-5, 1e-4, 2e-4, 3e-4, 4e-4]
    start = _drawn(panel.render())
    for lr in (5e-5, 3e-4):
        assert panel.pending(method="ga", lr=lr).startswith(f"running ga at lr {lr:g}")
        fig = panel.render(method="ga", lr=lr)
        assert ("ga", lr) in calls
        seen.add(("ga", lr))
        assert panel.pending(method="ga", lr=lr) is None
        assert f"ga @ lr {lr:g}:" in fig.axes[0].get_title()
        assert _drawn(fig) != start
        plt.close(fig)


def test_leaderboard_panel_aggregates_per_level():
    runs = pd.DataFrame(
        [
            dict(method=m, level=lvl, seed=s, Q=1.0, U=u, QU=u, drawing_QU=u)
            for m, u in (("nhl_kl", 0.9), ("ga", 0.2))
            for lvl in ("easy", "difficult")
            for s in (0, 1)
        ]
    )
    panel = widgets.leaderboard_panel(
        runs, paper={"nhl_kl": 95.2, "ga": 11.85}, paper_label="paper Table 2"
    )
    assert panel.controls["level"].options == ("all", "easy", "difficult")
    fig = panel.render()
    assert "(4 runs per method)" in fig.axes[0].get_title()
    plt.close(fig)
    fig = panel.render(level="easy", metric="drawing_QU")
    assert "(2 runs per method)" in fig.axes[0].get_title()
    plt.close(fig)
    one = widgets.leaderboard_panel(runs[runs.seed == 0]).render(level="easy")
    assert "(1 run per method)" in one.axes[0].get_title()
    plt.close(one)


@pytest.mark.parametrize("maker", ["ablation", "ood"])
def test_panels_display_without_a_frontend(maker):
    panel = _live()[0] if maker == "ablation" else _live_ood([])[0]
    assert isinstance(panel.out, W.Output)
