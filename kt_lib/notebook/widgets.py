"""Explore panels for notebooks 04-06: ipywidgets controls that re-render results a plain cell computed.

A :class:`Panel` is ``interactive_output`` over a dict of controls (selection sliders with
``continuous_update=False``, dropdowns) plus optional buttons. A control only offers values the panel has
results for, and the render functions draw the result at exactly the chosen values (a lookup, a filter,
an aggregate) with a title that names them, so the title and the data always describe the same run; a
combination nobody ran is said in words, not replaced by a neighbour. The one live action, the "run this
setting" button of :func:`ablation_panel`, calls a function the notebook has already called in a plain
cell, shows "running ..." and disables itself until the run is drawn. Every panel can be driven without a browser:
``panel.render()`` draws with the current control values and ``panel.click()`` presses a button.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, display

from kt_lib.notebook import plots
from kt_lib.notebook.score_plots import runs_title
from kt_lib.notebook.style import PANEL_WIDTH
from kt_lib.notebook.sweeps import aggregate, concept_frame, to_frame
from kt_lib.presets import budget_label

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
        self.state = {} if state is None else state  # shared with render functions (e.g. reruns)
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
        for b in self.buttons:
            b.disabled = True
        try:
            with self.out:
                self.out.clear_output(wait=True)
                shown = ", ".join(f"{k} {v}" for k, v in self.values().items())
                print(f"running ({shown}) ...")
                self.state["last"] = fn(**self.values())
                self.out.clear_output(wait=True)
                self._show(**self.values())
        finally:
            for b in self.buttons:
                b.disabled = False

    def click(self, index: int = 0):
        """Press button `index` as a user would; returns what its action returned."""
        fn = list(self._actions.values())[index]
        self.state["last"] = fn(**self.values())
        return self.state["last"]

    def _ipython_display_(self):
        display(self.widget)


def _options(values) -> list[float]:
    return sorted({float(v) for v in values if v == v})


def _snap(options: list[float], value, fallback: float) -> float:
    """`value` if it is one of `options`, else the option nearest to it (or `fallback`)."""
    if value is None:
        return fallback
    return min(options, key=lambda o: abs(o - float(value)))


def _selection_slider(name: str, options: list[float], value: float) -> W.SelectionSlider:
    """A slider that only offers values the panel has results for."""
    return W.SelectionSlider(
        options=[(f"{o:g}", o) for o in options], value=value, description=name, **_SLIDE
    )


def _same(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)), abs(float(b)))


def ablation_panel(
    rows: list[dict], rerun: Callable | None = None, defaults: dict | None = None
) -> Panel:
    """Notebook 04: method, margin, alpha_coarse, alpha_fine and a target breed -> the run at exactly
    those settings (Q, U, Q-U and Q of the chosen breed).

    The sliders only offer values some cached run has. When no cached run has the chosen combination the
    panel says so and draws nothing; `rerun(method=..., margin=..., alpha_coarse=..., alpha_fine=...)`
    (e.g. a short `kt_lib.notebook.sweeps.run`) is wired to a button that trains exactly the shown
    settings. Its results are kept per setting and drawn beside the cached run of the same setting, so
    the title (the settings) always describes every bar drawn."""
    table, rows = to_frame(rows), list(rows)
    concepts = list(dict.fromkeys(concept_frame(rows).concept)) or ["(none)"]
    defaults = defaults or {}
    methods = list(dict.fromkeys(table.method))
    knobs = {k: _options(table[k]) for k in ("margin", "alpha_coarse", "alpha_fine")}
    first = table.iloc[0]
    controls = dict(
        method=W.Dropdown(
            options=methods,
            value=defaults.get("method") if defaults.get("method") in methods else methods[0],
            description="method",
            **_STYLE,
        ),
        **{
            k: _selection_slider(k, opts, _snap(opts, defaults.get(k), float(first[k])))
            for k, opts in knobs.items()
        },
        concept=W.Dropdown(
            options=concepts, value=concepts[0], description="target breed", **_STYLE
        ),
    )
    state: dict = {"runs": {}}

    def key(method, margin, alpha_coarse, alpha_fine):
        return (method, float(margin), float(alpha_coarse), float(alpha_fine))

    def scores(row, concept):
        per = [
            c
            for c in row.get("per_concept", [])
            if c["concept"] == concept and c["domain"] == "photo"
        ]
        q = 1 - per[0]["after"] / per[0]["before"] if per and per[0]["before"] > 0 else float("nan")
        return {"Q": row["Q"], "U": row["U"], "QU": row["QU"], f"Q ({concept})": q}

    def cached(method, margin, alpha_coarse, alpha_fine):
        for r in rows:
            if r["method"] == method and all(
                _same(r[k], v)
                for k, v in (
                    ("margin", margin),
                    ("alpha_coarse", alpha_coarse),
                    ("alpha_fine", alpha_fine),
                )
            ):
                return r
        return None

    def render(method, margin, alpha_coarse, alpha_fine, concept):
        setting = (
            f"{method}, margin {margin:g}, alpha_coarse {alpha_coarse:g}, alpha_fine {alpha_fine:g}"
        )
        entries = {}
        hit = cached(method, margin, alpha_coarse, alpha_fine)
        if hit is not None:
            entries[f"cached run\n({budget_label(hit)})"] = scores(hit, concept)
        mine = state["runs"].get(key(method, margin, alpha_coarse, alpha_fine))
        if mine is not None:
            entries[f"your run\n({budget_label(mine)})"] = scores(mine, concept)
        if not entries:
            hint = " or press the button to train it" if rerun else ""
            return HTML(
                f"<p><b>No run at {setting}.</b> The cached runs vary one setting at a time; move a "
                f"control back{hint}.</p>"
            )
        return plots.plot_scorecard(
            entries, metrics=("Q", "U", "QU", f"Q ({concept})"), title=setting
        )

    def do_rerun(method, margin, alpha_coarse, alpha_fine, concept):
        row = rerun(
            method=method,
            margin=float(margin),
            alpha_coarse=float(alpha_coarse),
            alpha_fine=float(alpha_fine),
        )
        state["runs"][key(method, margin, alpha_coarse, alpha_fine)] = row
        return row

    return Panel(
        render,
        controls,
        {"run this setting (short, CPU)": do_rerun} if rerun else None,
        note="The sliders offer the settings of the cached runs above; the figure shows the run at "
        "<b>exactly</b> the chosen settings. The button trains a short run of exactly these settings "
        "and draws it beside the cached one.",
        state=state,
    )


def ood_panel(rows: list[dict], defaults: dict | None = None) -> Panel:
    """Notebook 05: method and forgetting strength (learning rate) -> per-breed accuracy, photo vs drawing,
    of the cached run at exactly that method and lr (the slider offers the swept lrs only)."""
    table, rows = to_frame(rows), list(rows)
    defaults = defaults or {}
    lrs = _options(table.lr)
    methods = list(dict.fromkeys(table.method))
    controls = dict(
        method=W.Dropdown(
            options=methods,
            value=defaults.get("method") if defaults.get("method") in methods else methods[0],
            description="method",
            **_STYLE,
        ),
        lr=_selection_slider("lr (strength)", lrs, _snap(lrs, defaults.get("lr"), lrs[0])),
    )

    def render(method, lr):
        hits = [r for r in rows if r["method"] == method and _same(r["lr"], lr)]
        if not hits:
            return HTML(f"<p><b>No run of {method} at lr {lr:g}</b> in section 3's sweep.</p>")
        row = hits[0]
        return plots.plot_concept_domains(
            concept_frame([row]),
            title=f"{row['method']} @ lr {row['lr']:g}: photo Q {row['Q']:.2f}, "
            f"drawing Q {row['drawing_Q']:.2f}, U {row['U']:.2f}",
            width=PANEL_WIDTH,
        )

    return Panel(render, controls)


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
