"""Explore panels for notebooks 04-06 and 09: ipywidgets controls that draw the run at exactly the chosen
settings, under a title that names them. :func:`ablation_panel` (04) and :func:`ood_panel` (05) are live:
any combination on their grid is trained at the full budget by the notebook's own `exp.run` call and cached
by its settings; while it trains, the panel shows its progress (step, training loss, forget-batch accuracy)
and the final figure replaces it. :func:`leaderboard_panel` (06) re-aggregates what a cell computed;
:func:`audit_panel` (09) shows one audit of one method from the results a cell computed.
``panel.render()`` draws with the current control values, without a browser (`kt_lib.notebook.panel`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import ipywidgets as W
import pandas as pd

from kt_lib.eval.audit import AUDITS
from kt_lib.notebook import plots
from kt_lib.notebook.leaderboard import aggregate, concept_frame
from kt_lib.notebook.panel import Panel
from kt_lib.notebook.style import PANEL_WIDTH, plural
from kt_lib.presets import budget_label

_STYLE = dict(style={"description_width": "initial"})
# the live panel's grid: any combination of these trains at the full budget (in_domain scope: Q and U)
ABLATION_GRID = dict(
    margin=(0.0, 0.5, 1.0, 2.0, 3.0, 5.0),
    alpha_coarse=(0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
    alpha_fine=(0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
)


def _dropdown(name: str, options, value=None) -> W.Dropdown:
    """A dropdown at `value`, or at its first option when `value` is not one of them."""
    options = list(options)
    value = value if value in options else options[0]
    return W.Dropdown(options=options, value=value, description=name, **_STYLE)


def _slider(name: str, options: list[float], value) -> W.SelectionSlider:
    """A slider over `options` at the one nearest `value` (a release, not a drag, draws)."""
    value = options[0] if value is None else min(options, key=lambda o: abs(o - float(value)))
    options = [(f"{o:g}", o) for o in options]
    return W.SelectionSlider(
        options=options, value=value, description=name, continuous_update=False, **_STYLE
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

    `run(method=..., margin=..., alpha_coarse=..., alpha_fine=..., on_step=None)` returns a run's row (the
    notebook passes `exp.run(scope="in_domain", ...)`, which trains a setting once,
    calling `on_step` per step, and finds it in the run cache afterwards); `is_cached(**settings)`
    (optional) says whether it will train: only then does it train on the background thread."""
    grid = {k: tuple(float(v) for v in vs) for k, vs in (grid or ABLATION_GRID).items()}
    reference = {k: (float(v) if k in grid else v) for k, v in reference.items()}
    controls = dict(
        method=_dropdown("method", methods, reference["method"]),
        **{k: _slider(k, list(opts), reference.get(k)) for k, opts in grid.items()},
        concept=_dropdown("target breed", concepts),
    )

    def setting_of(values: dict) -> dict:
        return {k: values[k] for k in ("method", *grid)}

    def label(setting: dict) -> str:
        return ", ".join([setting["method"], *(f"{k} {float(setting[k]):g}" for k in grid)])

    def scores(row, concept):
        photo = {c["concept"]: c for c in row.get("per_concept", []) if c["domain"] == "photo"}
        c = photo.get(concept, dict(before=0))
        q = 1 - c["after"] / c["before"] if c["before"] > 0 else float("nan")
        return {"Q": row["Q"], "U": row["U"], "QU": row["QU"], f"Q ({concept})": q}

    default = setting_of(reference)

    def runs(values: dict) -> list[dict]:
        """Your setting, then the default (when it differs): the bars' order and the title's."""
        setting = setting_of(values)
        return [setting] + ([default] if setting != default else [])

    def render(concept, **values):
        mine, *ref = runs(values)
        rows = [run(**s) for s in (mine, *ref)]
        names = ["your setting", "default setting"][: len(rows)]
        entries = {f"{n}\n({budget_label(r)})": scores(r, concept) for n, r in zip(names, rows)}
        title = label(mine) if not ref else f"yours: {label(mine)}  vs  default: {label(default)}"
        metrics = ("Q", "U", "QU", f"Q ({concept})")
        return plots.plot_scorecard(entries, metrics=metrics, title=title)

    def untrained(values: dict) -> list[dict]:
        return [s for s in runs(values) if is_cached is not None and not is_cached(**s)]

    def pending(concept, **values) -> str | None:
        todo = untrained(values)
        return f"running {label(todo[0])} (full budget) ..." if todo else None

    def train(progress, concept, **values):
        for s in untrained(values):
            run(**s, on_step=partial(progress, label(s)))

    note = "Any combination trains once, at the full budget (its steps drawn as they come), and is drawn "
    note += "beside the default setting; settings already run come from the run cache."
    return Panel(render, controls, note, pending, train)


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
    `run(method=..., lr=..., on_step=None)` returns the row (the notebook passes
    `exp.run(...)`, cached by its settings); `is_cached(method=..., lr=...)` decides
    whether it trains on the background thread, its steps drawn as they come."""
    lrs = sorted(float(x) for x in lrs)
    method = _dropdown("method", methods, reference["method"])
    controls = dict(method=method, lr=_slider("lr (strength)", lrs, reference.get("lr")))

    def render(method, lr):
        row = run(method=method, lr=float(lr))
        title = f"{row['method']} @ lr {row['lr']:g}: photo Q {row['Q']:.2f}, "
        title += f"drawing Q {row['drawing_Q']:.2f}, U {row['U']:.2f}"
        return plots.plot_concept_domains(concept_frame([row]), title=title, width=PANEL_WIDTH)

    def pending(method, lr) -> str | None:
        if is_cached is not None and not is_cached(method=method, lr=float(lr)):
            return f"running {method} at lr {float(lr):g} (full budget) ..."
        return None

    def train(progress, method, lr):
        run(
            method=method, lr=float(lr), on_step=lambda row: progress(f"{method} at lr {lr:g}", row)
        )

    return Panel(render, controls, pending=pending, train=train)


def leaderboard_panel(
    runs: pd.DataFrame, paper: dict | None = None, paper_label: str = "paper"
) -> Panel:
    """Notebook 06: metric and difficulty level -> the leaderboard (mean, 95% CI clipped to the axis)
    re-aggregated from `runs`."""
    metrics = [
        m for m in ("QU", "Q", "U", "drawing_QU", "drawing_Q", "zero_shot_utility") if m in runs
    ]
    controls = dict(
        metric=_dropdown("metric", metrics, "QU"),
        level=_dropdown("level", ["all", *dict.fromkeys(runs.level)]),
    )

    def render(metric, level):
        agg = aggregate(runs if level == "all" else runs[runs.level == level], "method", (metric,))
        lo, hi = int(agg.n.min()), int(agg.n.max())
        n = plural(hi, "run") if lo == hi else f"{lo}-{hi} runs"
        shown = dict(paper=paper if metric == "QU" else None, paper_label=paper_label)
        title = f"{metric}, level: {level} ({n} per method)"
        return plots.plot_leaderboard(agg, metric, title=title, width=PANEL_WIDTH, **shown)

    return Panel(render, controls)


def audit_panel(results: dict) -> Panel:
    """Notebook 09: audit and method -> that audit's rows for the method (`results`: method ->
    `kt_lib.eval.audit.audit`'s dict, computed by a cell above): the unlearned model beside its controls,
    the original and the never-learned model; nothing is trained or audited again."""
    methods = list(results)
    audits = [a for a in dict.fromkeys(k for r in results.values() for k in r) if a in AUDITS]
    if not audits:
        raise ValueError(
            "audit_panel needs the results of at least one audit (mia, ks, quant, invert)"
        )
    controls = dict(audit=_dropdown("audit", audits), method=_dropdown("method", methods))

    def render(audit, method):
        res = results[method][audit]
        rows = res.get("rows") or [
            {k: v for k, v in res.items() if not isinstance(v, (dict, list))}
        ]
        frame = pd.DataFrame(rows).drop(columns=["perturbed"], errors="ignore")
        return frame.rename_axis(f"{audit} · {method}")

    return Panel(render, controls)
