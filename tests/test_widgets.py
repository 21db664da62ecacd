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


def test_ablation_panel_renders_nearest_cached_point_and_reruns():
    calls = []

    def rerun(**kw):
        calls.append(kw)
        return _row(kw["method"], kw["margin"], kw["alpha_coarse"], kw["alpha_fine"], q=0.5, u=0.95)

    panel = widgets.ablation_panel(ROWS, rerun=rerun, defaults=dict(method="nhl_kl", margin=2.0))
    assert isinstance(panel.widget, W.VBox) and len(panel.buttons) == 1
    sliders = [c for c in panel.controls.values() if isinstance(c, W.FloatSlider)]
    assert len(sliders) == 3 and not any(s.continuous_update for s in sliders)
    fig = panel.render(margin=4.5, alpha_coarse=10.0, alpha_fine=20.0)
    assert isinstance(fig, plt.Figure) and "margin 5" in fig.axes[0].get_xticklabels()[0].get_text()
    plt.close(fig)
    assert calls == []  # rendering never trains
    panel.click()
    assert calls == [dict(method="nhl_kl", margin=2.0, alpha_coarse=10.0, alpha_fine=20.0)]
    fig = panel.render(concept="beagle")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert len(labels) == 2 and labels[1].startswith("rerun")
    plt.close(fig)
    panel._show(**panel.values())  # the interactive_output callback itself


def test_ablation_panel_without_rerun_has_no_button():
    panel = widgets.ablation_panel(ROWS)
    assert panel.buttons == []
    panel.controls["method"].value = "ga"
    plt.close(panel.render())


def test_ood_panel_renders_each_strength():
    rows = [
        _row(m, lr=lr, dq=0.5 + lr * 1000) for m in ("nhl_kl", "ga") for lr in (5e-5, 1e-4, 2e-4)
    ]
    panel = widgets.ood_panel(rows)
    for lr in (5e-5, 2e-4):
        fig = panel.render(method="ga", lr=lr)
        assert f"lr {lr:g}" in fig.axes[0].get_title()
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
    assert "4 runs" in fig.axes[0].get_title()
    plt.close(fig)
    fig = panel.render(level="easy", metric="drawing_QU")
    assert "2 runs" in fig.axes[0].get_title()
    plt.close(fig)


@pytest.mark.parametrize("maker", ["ablation", "ood"])
def test_panels_display_without_a_frontend(maker):
    panel = widgets.ablation_panel(ROWS) if maker == "ablation" else widgets.ood_panel(ROWS)
    assert isinstance(panel.out, W.Output)
