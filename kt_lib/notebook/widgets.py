"""Explore panels for notebooks 04-06: ipywidgets controls that draw the run at exactly the chosen settings.

A :class:`Panel` is ``interactive_output`` over a dict of controls (selection sliders with
``continuous_update=False``, dropdowns). The render functions draw the result at
exactly the chosen values with a title that names them, so the title and the data always describe the
same run. :func:`leaderboard_panel` aggregates what a plain cell computed. :func:`ablation_panel` (04) and
:func:`ood_panel` (05) are live: any combination on their grid is trained at the full budget by the same
`exp.run` call the notebook's cells make (they show "running ..." meanwhile) and cached by its settings.
Every panel can be driven without a browser: ``panel.render()`` draws with the current control values.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import clear_output, display

from kt_lib.notebook import plots
from kt_lib.notebook.leaderboard import aggregate, concept_frame
from kt_lib.notebook.score_plots import runs_title
from kt_lib.notebook.style import PANEL_WIDTH
from kt_lib.presets import budget_label

_STYLE = dict(style={"description_width": "initial"})
_SLIDE = dict(continuous_update=False, **_STYLE)


class Panel:
    """Controls -> `render(**values)` (returns a Figure, a DataFrame or None) shown in one Output area;
    `pending(**values)` (optional) says "running ..." while a live render trains."""

    def __init__(
        self, render: Callable, controls: dict[str, W.Widget], note: str = "", pending=None
    ):
        self.render_fn, self.controls, self.pending = render, controls, pending
        self.out = W.interactive_output(self._show, controls)
        rows = [W.HBox(list(controls.values())[i : i + 3]) for i in range(0, len(controls), 3)]
        self.widget = W.VBox([*rows, *([W.HTML(note)] if note else []), self.out])

    def values(self) -> dict:
        return {k: c.value for k, c in self.controls.items()}

    def render(self, **overrides):
        """Render with the current control values (or `overrides`) and return what was drawn."""
        return self.render_fn(**{**self.values(), **overrides})

    def _show(self, **values) -> None:
        message = self.pending(**values) if self.pending else None
        if message:  # a live run: say so until its figure replaces the message
            print(message)
        shown = self.render_fn(**values)
        if message:
            clear_output(wait=True)  # the Output area this runs in (interactive_output's)
        if isinstance(shown, plt.Figure):
            display(shown)
            plt.close(shown)
        elif shown is not None:
            display(shown)

    def _ipython_display_(self):
        display(self.widget)


def _snap(options: list[float], value, fallback: float) -> float:
    """`value` if it is one of `options`, else the option nearest to it (or `fallback`)."""
    if value is None:
        return fallback
    return min(options, key=lambda o: abs(o - float(value)))


def _selection_slider(name: str, options: list[float], value: float) -> W.SelectionSlider:
    """A slider over a grid of values (`continuous_update=False`: a release, not a drag, draws)."""
    return W.SelectionSlider(
        options=[(f"{o:g}", o) for o in options], value=value, description=name, **_SLIDE
    )


# the live panel's grid: any combination of these trains at the full budget (in_domain scope: Q and U)
ABLATION_GRID = dict(
    margin=(0.0, 0.5, 1.0, 2.0, 3.0, 5.0),
    alpha_coarse=(0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
    alpha_fine=(0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
)


def ablation_panel(
    run: Callable,
    methods: list[str],
    concepts: list[str],
    reference: dict,
    grid: dict | None = None,
    is_cached: Callable | None = None,
) -> Panel:
    """Notebook 04, live: method, margin, alpha_coarse, alpha_fine and a target breed -> the run at exactly
    those settings and the full budget (Q, U, Q-U and Q of the chosen breed), drawn beside the
    `reference` setting (the paper's default), both named in the figure.

    `run(method=..., margin=..., alpha_coarse=..., alpha_fine=...)` returns a run's row; the notebook
    passes `exp.run(keep_result=False, scope="in_domain", ...)`, which trains a setting once and finds it
    in the run cache afterwards, so going back to a setting is instant. `is_cached(**settings)` (optional)
    tells the panel whether to show "running ..." while it trains."""
    grid = {k: tuple(float(v) for v in vs) for k, vs in (grid or ABLATION_GRID).items()}
    reference = {k: (float(v) if k in grid else v) for k, v in reference.items()}
    controls = dict(
        method=W.Dropdown(
            options=list(methods),
            value=reference["method"] if reference["method"] in methods else methods[0],
            description="method",
            **_STYLE,
        ),
        **{
            k: _selection_slider(k, list(opts), _snap(list(opts), reference.get(k), opts[0]))
            for k, opts in grid.items()
        },
        concept=W.Dropdown(
            options=list(concepts), value=concepts[0], description="target breed", **_STYLE
        ),
    )

    def setting_of(values: dict) -> dict:
        return {k: values[k] for k in ("method", *grid)}

    def label(setting: dict) -> str:
        return ", ".join(
            [setting["method"], *(f"{k} {float(setting[k]):g}" for k in grid if k in setting)]
        )

    def scores(row, concept):
        per = [
            c
            for c in row.get("per_concept", [])
            if c["concept"] == concept and c["domain"] == "photo"
        ]
        q = 1 - per[0]["after"] / per[0]["before"] if per and per[0]["before"] > 0 else float("nan")
        return {"Q": row["Q"], "U": row["U"], "QU": row["QU"], f"Q ({concept})": q}

    def render(concept, **values):
        setting = setting_of(values)
        mine = run(**setting)
        entries = {f"your setting\n({budget_label(mine)})": scores(mine, concept)}
        if setting != setting_of(reference):
            ref = run(**setting_of(reference))
            entries = {f"default setting\n({budget_label(ref)})": scores(ref, concept), **entries}
        title = label(setting)
        if len(entries) > 1:
            title += f"  vs  {label(setting_of(reference))}"
        return plots.plot_scorecard(
            entries, metrics=("Q", "U", "QU", f"Q ({concept})"), title=title
        )

    def pending(concept, **values) -> str | None:
        setting = setting_of(values)
        if is_cached is None or is_cached(**setting):
            return None
        return f"running {label(setting)} (full budget) ..."

    return Panel(
        render,
        controls,
        note="Any combination trains once, at the full budget, and is drawn beside the "
        "default setting; settings already run come from the run cache.",
        pending=pending,
    )


def strength_grid(lr: float, swept=()) -> list[float]:
    """Learning rates for a strength slider: `lr` x 1/4 .. 4 (doublings) with the swept ones."""
    return sorted({float(f"{x:.6g}") for x in (*(lr * 2.0**k for k in range(-2, 3)), *swept)})


def ood_panel(
    run: Callable,
    methods: list[str],
    lrs: list[float],
    reference: dict,
    is_cached: Callable | None = None,
) -> Panel:
    """Notebook 05, live: method and forgetting strength (learning rate, on the grid `lrs`) -> per-breed
    accuracy, photo vs drawing, of the run at exactly that method and lr and the full budget.
    `run(method=..., lr=...)` returns the row (the notebook passes `exp.run(keep_result=False, ...)`, cached
    by its settings); `is_cached(method=..., lr=...)` decides whether "running ..." is shown."""
    lrs = sorted(float(x) for x in lrs)
    controls = dict(
        method=W.Dropdown(
            options=list(methods),
            value=reference["method"] if reference["method"] in methods else methods[0],
            description="method",
            **_STYLE,
        ),
        lr=_selection_slider("lr (strength)", lrs, _snap(lrs, reference.get("lr"), lrs[0])),
    )

    def render(method, lr):
        row = run(method=method, lr=float(lr))
        return plots.plot_concept_domains(
            concept_frame([row]),
            title=f"{row['method']} @ lr {row['lr']:g}: photo Q {row['Q']:.2f}, "
            f"drawing Q {row['drawing_Q']:.2f}, U {row['U']:.2f}",
            width=PANEL_WIDTH,
        )

    def pending(method, lr) -> str | None:
        if is_cached is None or is_cached(method=method, lr=float(lr)):
            return None
        return f"running {method} at lr {float(lr):g} (full budget) ..."

    return Panel(render, controls, pending=pending)


def leaderboard_panel(
    runs: pd.DataFrame, paper: dict | None = None, paper_label: str = "paper"
) -> Panel:
    """Notebook 06: metric and difficulty level -> the leaderboard (mean, 95% CI clipped to the axis)
    re-aggregated from `runs`."""
    metrics = [
        m for m in ("QU", "Q", "U", "drawing_QU", "drawing_Q", "zero_shot_utility") if m in runs
    ]
    levels = ["all", *dict.fromkeys(runs.level)]
    controls = dict(
        metric=W.Dropdown(options=metrics, value="QU", description="metric", **_STYLE),
        level=W.Dropdown(options=levels, value="all", description="level", **_STYLE),
    )

    def render(metric, level):
        sub = runs if level == "all" else runs[runs.level == level]
        agg = aggregate(sub, "method", metrics=(metric,))
        return plots.plot_leaderboard(
            agg,
            metric,
            paper=paper if metric == "QU" else None,
            paper_label=paper_label,
            title=runs_title(f"{metric}, level: {level}", int(agg.n.min()), int(agg.n.max())),
            width=PANEL_WIDTH,
        )

    return Panel(render, controls)
