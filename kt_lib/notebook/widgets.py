"""Explore panels for notebooks 04-06: ipywidgets controls that re-render results a plain cell computed.

A :class:`Panel` is ``interactive_output`` over a dict of controls (sliders with ``continuous_update=False``)
plus optional buttons. The render functions only look results up (nearest cached setting, a filter, an
aggregate) and draw a figure, so a widget never hides an error a plain cell would not have shown first.
The one live action, the "rerun" button of :func:`ablation_panel`, calls a function the notebook has
already called in a plain cell with the same arguments. Every panel can be driven without a browser:
``panel.render()`` draws with the current control values and ``panel.click()`` presses a button.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from kt_lib.notebook import plots
from kt_lib.notebook.sweeps import aggregate, concept_frame, nearest, to_frame

_STYLE = dict(style={"description_width": "initial"})
_SLIDE = dict(continuous_update=False, **_STYLE)


class Panel:
    """Controls -> `render(**values)` (returns a Figure, a DataFrame or None) shown in one Output area."""

    def __init__(
        self,
        render: Callable,
        controls: dict[str, W.Widget],
        buttons: dict[str, Callable] | None = None,
        note: str = "",
        state: dict | None = None,
    ):
        self.render_fn, self.controls = render, controls
        self.state = (
            {} if state is None else state
        )  # shared with render functions (e.g. the last rerun)
        self._actions = dict(buttons or {})
        self.buttons = []
        for label, fn in self._actions.items():
            b = W.Button(description=label, layout=W.Layout(width="auto"))
            b.on_click(lambda _b, fn=fn: self._press(fn))
            self.buttons.append(b)
        self.out = W.interactive_output(self._show, controls)
        rows = [W.HBox(list(controls.values())[i : i + 3]) for i in range(0, len(controls), 3)]
        self.widget = W.VBox(
            [
                *rows,
                *([W.HBox(self.buttons)] if self.buttons else []),
                *([W.HTML(note)] if note else []),
                self.out,
            ]
        )

    def values(self) -> dict:
        return {k: c.value for k, c in self.controls.items()}

    def render(self, **overrides):
        """Render with the current control values (or `overrides`) and return what was drawn."""
        return self.render_fn(**{**self.values(), **overrides})

    def _show(self, **values) -> None:
        shown = self.render_fn(**values)
        if isinstance(shown, plt.Figure):
            display(shown)
            plt.close(shown)
        elif shown is not None:
            display(shown)

    def _press(self, fn: Callable) -> None:
        with self.out:
            self.out.clear_output(wait=True)
            print("running ...")
            self.state["last"] = fn(**self.values())
            self.out.clear_output(wait=True)
            self._show(**self.values())

    def click(self, index: int = 0):
        """Press button `index` as a user would; returns what its action returned."""
        fn = list(self._actions.values())[index]
        self.state["last"] = fn(**self.values())
        return self.state["last"]

    def _ipython_display_(self):
        display(self.widget)


def _slider(name, values, step):
    values = [float(v) for v in values]
    return W.FloatSlider(
        value=values[len(values) // 2] if values else 0.0,
        min=min(values, default=0.0),
        max=max(values, default=1.0),
        step=step,
        description=name,
        **_SLIDE,
    )


def ablation_panel(
    rows: list[dict], rerun: Callable | None = None, defaults: dict | None = None
) -> Panel:
    """Notebook 04: sliders for margin, alpha_coarse, alpha_fine, a method and a target-breed dropdown.

    Shows the cached run nearest to the sliders (Q, U, Q-U, and Q of the chosen breed). `rerun(method=...,
    margin=..., alpha_coarse=..., alpha_fine=...)` (e.g. a short `kt_lib.notebook.sweeps.run`) is wired to a button;
    its last result is drawn beside the cached point."""
    table, rows = to_frame(rows), list(rows)
    concepts = list(dict.fromkeys(concept_frame(rows).concept)) or ["(none)"]
    defaults = defaults or {}
    controls = dict(
        method=W.Dropdown(
            options=list(dict.fromkeys(table.method)),
            value=defaults.get("method", table.method.iloc[0]),
            description="method",
            **_STYLE,
        ),
        margin=_slider("margin", table.margin, 0.5),
        alpha_coarse=_slider("alpha_coarse", table.alpha_coarse, 1.0),
        alpha_fine=_slider("alpha_fine", table.alpha_fine, 1.0),
        concept=W.Dropdown(
            options=concepts, value=concepts[0], description="target breed", **_STYLE
        ),
    )
    for k in ("margin", "alpha_coarse", "alpha_fine"):
        if k in defaults:
            controls[k].value = float(defaults[k])
    state: dict = {}

    def scores(row, concept):
        per = [
            c
            for c in row.get("per_concept", [])
            if c["concept"] == concept and c["domain"] == "photo"
        ]
        q = 1 - per[0]["after"] / per[0]["before"] if per and per[0]["before"] > 0 else float("nan")
        return {"Q": row["Q"], "U": row["U"], "QU": row["QU"], f"Q ({concept})": q}

    def render(method, margin, alpha_coarse, alpha_fine, concept):
        hit = nearest(
            table, method=method, margin=margin, alpha_coarse=alpha_coarse, alpha_fine=alpha_fine
        )
        row = rows[hit.name]
        entries = {
            f"cached: {row['label']}\n(margin {row['margin']:g}, a_c {row['alpha_coarse']:g}, "
            f"a_f {row['alpha_fine']:g})": scores(row, concept)
        }
        last = state.get("last")
        if last is not None:
            entries[
                f"rerun: {last['method']}, {last['num_epochs']} ep\n(margin {last['margin']:g}, "
                f"a_c {last['alpha_coarse']:g}, a_f {last['alpha_fine']:g})"
            ] = scores(last, concept)
        fig = plots.plot_scorecard(
            entries,
            metrics=("Q", "U", "QU", f"Q ({concept})"),
            title=f"sliders: {method}, margin {margin:g}, a_c {alpha_coarse:g}, a_f {alpha_fine:g}",
        )
        fig.axes[0].title.set_fontsize(9)
        return fig

    def do_rerun(method, margin, alpha_coarse, alpha_fine, concept):
        return rerun(
            method=method,
            margin=float(margin),
            alpha_coarse=float(alpha_coarse),
            alpha_fine=float(alpha_fine),
        )

    return Panel(
        render,
        controls,
        {"rerun this setting (short, CPU)": do_rerun} if rerun else None,
        note="Sliders pick the <b>nearest cached run</b>; the button trains a short run with exactly "
        "these settings.",
        state=state,
    )


def ood_panel(rows: list[dict]) -> Panel:
    """Notebook 05: method and forgetting strength (learning rate) -> per-breed accuracy, photo vs drawing."""
    table, rows = to_frame(rows), list(rows)
    lrs = sorted(set(float(x) for x in table.lr))
    controls = dict(
        method=W.Dropdown(
            options=list(dict.fromkeys(table.method)), description="method", **_STYLE
        ),
        lr=W.SelectionSlider(
            options=[(f"{x:g}", x) for x in lrs],
            value=lrs[len(lrs) // 2],
            description="lr (strength)",
            **_SLIDE,
        ),
    )

    def render(method, lr):
        row = rows[nearest(table, method=method, lr=lr).name]
        cf = concept_frame([row])
        return plots.plot_concept_domains(
            cf,
            title=f"{row['method']} @ lr {row['lr']:g}: photo Q {row['Q']:.2f}, "
            f"drawing Q {row['drawing_Q']:.2f}, U {row['U']:.2f}",
        )

    return Panel(render, controls)


def leaderboard_panel(
    runs: pd.DataFrame, paper: dict | None = None, paper_label: str = "paper"
) -> Panel:
    """Notebook 06: metric and difficulty level -> the leaderboard (mean, 95% CI) re-aggregated from `runs`."""
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
            title=f"{metric}, level: {level} ({int(agg.n.max())} runs per method)",
        )

    return Panel(render, controls)
