"""kt_lib.notebook.widgets: panels build headlessly and their callbacks render from cached rows without training;
a live panel trains on one background thread, draws its steps and replaces them with the final figure, and a
control moved meanwhile stops that run (the callbacks are tested here: papermill never sees their errors)."""

import time

import matplotlib

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from kt_lib.notebook import widgets  # noqa: E402
from kt_lib.notebook.panel import Superseded  # noqa: E402


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


def _live(calls=None, cached=(), steps=0, step_seconds=0.0, fail=None):
    """A live ablation panel whose run function records each training call (settings not in `cached`),
    training `steps` steps of `step_seconds` each through `on_step`; `fail`: a setting whose run raises."""
    calls = _Calls() if calls is None else calls
    seen, busy = set(cached), []

    def run(on_step=None, **kw):
        key = tuple(sorted(kw.items()))
        if key not in seen:
            calls.append(kw)
            busy.append(kw)  # how many runs train at once
            calls.concurrent = max(getattr(calls, "concurrent", 0), len(busy))
            try:
                if kw == fail:
                    raise ValueError("this setting diverged")
                for i in range(steps):
                    time.sleep(step_seconds)
                    row = dict(step=i, loss=1.0 - i / steps, forget_accuracy=0.9 * (1 - i / steps))
                    if on_step is not None:
                        on_step(dict(row, total=steps))
            finally:
                busy.remove(kw)
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


CACHED_DEFAULT = tuple(sorted(DEFAULT.items()))


class _Calls(list):
    """A list of training calls that can carry the most runs seen training at once."""


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
    assert labels[0].startswith("your setting") and labels[1].startswith("default setting")
    title = fig.axes[0].get_title()  # names the runs in the bars' order
    assert title.startswith("yours: nhl_kl, margin 0.5, alpha_coarse 10, alpha_fine 0")
    assert title.endswith("vs  default: nhl_kl, margin 2, alpha_coarse 10, alpha_fine 20")
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
    def run(method, lr, on_step=None):
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


def _kinds(panel) -> list[str]:
    """What the panel's Output shows: 'text' (a message or progress), 'svg' (the curves), 'png' (a figure),
    'stderr'."""
    kinds = []
    for o in panel.out.outputs:
        data = o.get("data", {})
        kinds.append(
            "stderr"
            if o.get("name") == "stderr"
            else "png"
            if "image/png" in data
            else "svg"
            if "image/svg+xml" in data
            else "text"
        )
    return kinds


def _text(panel) -> str:
    return " ".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in panel.out.outputs
    )


def _watch(panel, seen: list):
    """Record every Output state the panel shows (the widget's own trait, as a browser would get it)."""
    panel.out.observe(lambda ch: seen.append((_kinds(panel), _text(panel))), "outputs")


def test_a_live_run_says_so_at_once_draws_its_steps_then_its_figure():
    panel, calls = _live(cached=[CACHED_DEFAULT], steps=12, step_seconds=0.02)
    assert _kinds(panel) == ["png"]  # the default, cached: drawn at once
    states = []
    _watch(panel, states)
    panel.controls["margin"].value = 5.0
    assert _text(panel).startswith("running nhl_kl, margin 5")  # before any step
    panel.wait(30)
    progress = [t for k, t in states if "svg" in k]
    assert progress and "step 1 / 12" in progress[0] and "step 12 / 12" in progress[-1]
    assert "training loss 1.000, forget-batch accuracy 0.90" in progress[0]
    assert _kinds(panel) == ["png"] and len(calls) == 1 and panel.errors == []
    png = panel.out.outputs[0]
    assert "yours: nhl_kl, margin 5" in png["metadata"]["alt"]  # the final figure names the run


def test_a_control_moved_during_a_run_stops_it_and_only_the_newest_is_drawn():
    panel, calls = _live(cached=[CACHED_DEFAULT], steps=40, step_seconds=0.02)
    states = []
    _watch(panel, states)
    panel.controls["margin"].value = 5.0
    deadline = time.monotonic() + 10
    while not any("step" in t for _, t in states) and time.monotonic() < deadline:
        time.sleep(0.01)
    panel.controls["margin"].value = 0.5  # mid-run: the margin-5 run stops at its next step
    panel.controls["alpha_fine"].value = 0.0  # queued while margin 0.5 starts: that one stops too
    panel.wait(30)
    assert calls.concurrent == 1  # never two runs at once
    assert [c["margin"] for c in calls][:1] == [5.0] and calls[-1]["alpha_fine"] == 0.0
    assert _kinds(panel) == ["png"] and panel.errors == []
    assert "margin 0.5, alpha_coarse 10, alpha_fine 0" in panel.out.outputs[0]["metadata"]["alt"]
    figures = [t for k, t in states if k == ["png"]]
    assert len(figures) == 1  # the newest only: no figure of a superseded run
    last = [t for _, t in states if "margin 5" in t][-1]
    assert "step 40 / 40" not in last  # the margin-5 run did not finish


def test_another_target_breed_during_a_run_lets_it_go_on():
    """The target breed does not change what trains: the run goes on and is drawn for the new breed."""
    panel, calls = _live(cached=[CACHED_DEFAULT], steps=30, step_seconds=0.02)
    states = []
    _watch(panel, states)
    panel.controls["margin"].value = 5.0
    deadline = time.monotonic() + 10
    while not any("step" in t for _, t in states) and time.monotonic() < deadline:
        time.sleep(0.01)
    panel.controls["concept"].value = "beagle"
    panel.wait(30)
    steps = [int(t.split("step ")[1].split()[0]) for _, t in states if "step " in t]
    assert len(calls) == 1 and steps == sorted(steps) and steps[-1] == 30  # never restarted
    assert _kinds(panel) == ["png"] and panel.errors == []
    assert panel.out.outputs[0] == panel_png(panel)


def panel_png(panel) -> dict:
    """The output of the panel's current values, drawn headlessly."""
    from kt_lib.notebook.panel import _display_data

    fig = panel.render()
    try:
        return _display_data(fig)
    finally:
        plt.close(fig)


def test_a_failed_run_is_shown_in_the_panel_and_kept_in_errors():
    fail = dict(method="nhl_kl", margin=5.0, alpha_coarse=10.0, alpha_fine=20.0)
    panel, _ = _live(cached=[CACHED_DEFAULT], steps=3, fail=fail)
    panel.controls["margin"].value = 5.0
    panel.wait(30)
    assert _kinds(panel) == ["stderr"] and "this setting diverged" in _text(panel)
    assert [str(e) for e in panel.errors] == ["this setting diverged"]
    panel.controls["margin"].value = 2.0  # back to a run that works
    assert _kinds(panel) == ["png"]


def test_the_progress_hook_sees_every_step_and_leaves_the_run_unchanged():
    """unlearn(on_step=...) gets each step's row with the budget and the batch's forget accuracy; the
    weights and history are the same with and without it, and an exception it raises stops the run."""
    from kt_lib.unlearn import UnlearnConfig, unlearn
    from kt_lib.world.config import WorldTaxonomy
    from kt_lib.world.model import create_world_model

    tax = WorldTaxonomy()
    torch.manual_seed(0)
    model, tokenizer = create_world_model()
    fine = torch.tensor([tax.fine_index("Samoyed")] * 6 + [tax.fine_index("vizsla")] * 6)
    data = (torch.randn(12, 3, 32, 32), fine, torch.tensor(tax.fine_to_coarse)[fine])
    cfg = UnlearnConfig(method="nhl_kl", num_steps=3, batch_size=4, lr=1e-3)
    plain = unlearn(model, tokenizer, *data, tax.fine, tax.coarse, cfg)
    rows = []
    hooked = unlearn(model, tokenizer, *data, tax.fine, tax.coarse, cfg, on_step=rows.append)
    assert hooked.history.equals(plain.history)
    assert all(
        torch.equal(a, b)
        for a, b in zip(plain.model.state_dict().values(), hooked.model.state_dict().values())
    )
    assert [r["step"] for r in rows] == [0, 1, 2] and {r["total"] for r in rows} == {3}
    assert all(0 <= r["forget_accuracy"] <= 1 for r in rows)
    assert [r["loss"] for r in rows] == list(plain.history.loss)

    def stop(row):
        if row["step"] == 1:
            raise Superseded

    with pytest.raises(Superseded):
        unlearn(model, tokenizer, *data, tax.fine, tax.coarse, cfg, on_step=stop)


def feedback_sentence(rec: dict) -> str:
    """The README's sentence on the live panel's speed, from benchmarks/panel_feedback.json."""
    load = rec["load_average_1_5_15"]["before"][0]
    return (
        f"Measured by `tests/test_browser.py` in headless Chromium (`benchmarks/panel_feedback.json`: "
        f"notebook 04 in smoke mode, a margin not yet run, {rec['date'][:10]}, {rec['machine']}, load "
        f"average {load:.1f}): the first progress showed {rec['first_feedback_s']:.2f} s after the slider "
        f"moved, the final figure {rec['final_s']:.2f} s after."
    )


def test_readme_quotes_the_recorded_panel_feedback():
    """The README's times to first feedback and to the final figure are the recorded browser run's."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    rec = json.loads((root / "benchmarks" / "panel_feedback.json").read_text())
    assert {"first_feedback_s", "final_s", "command", "machine", "date"} <= set(rec)
    readme = " ".join((root / "README.md").read_text().split())
    assert feedback_sentence(rec) in readme, "rerun the browser test's record or fix the README"
