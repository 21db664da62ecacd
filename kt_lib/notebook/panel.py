"""The Explore panels' engine: controls -> one Output area, drawn at once or, for a setting that must
train, trained on one background thread with its steps drawn as they come (`kt_lib.notebook.widgets`
builds the panels of notebooks 04-06 and 09 on it)."""

from __future__ import annotations

import base64
import html
import threading
import time
import traceback
from collections.abc import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython import get_ipython
from IPython.core.pylabtools import print_figure

from kt_lib.notebook.style import figure_alt

PROGRESS_EVERY = (
    0.2  # seconds between two drawings of a live run's steps (its first and last: always)
)


class Superseded(Exception):
    """Raised in a live run's progress hook when a control moved since: the run stops at that step."""


class Panel:
    """Controls -> `render(**values)` (a Figure, a DataFrame or None) shown in one Output area.

    A live panel also gives `pending(**values)` (a message when these values must train, else None) and
    `train(progress, **values)` (trains them, calling `progress(name, history_row)` per step). Then a moved
    control that must train says so at once, trains on one background thread (the kernel stays free),
    draws the steps as they come, and the final figure replaces them. A control moved meanwhile stops that
    run at its next step (`Superseded`) and starts the newest values: one run at a time, no stale figure."""

    def __init__(
        self,
        render: Callable,
        controls: dict[str, W.Widget],
        note: str = "",
        pending=None,
        train=None,
        call_soon=None,
    ):
        self.render_fn, self.controls, self.pending, self.train = render, controls, pending, train
        self.call_soon = (
            call_soon or _main_thread
        )  # the final drawing (pyplot): on the kernel's thread
        self.out, self.errors = W.Output(), []
        self._lock, self._wanted, self._request, self._worker = threading.Lock(), 0, None, None
        self._running = None  # the _Progress of the run training now
        rows = [W.HBox(list(controls.values())[i : i + 3]) for i in range(0, len(controls), 3)]
        self.widget = W.VBox([*rows, *([W.HTML(note)] if note else []), self.out])
        for control in controls.values():
            control.observe(lambda _change: self.update(), "value")
        self.update()

    def values(self) -> dict:
        return {k: c.value for k, c in self.controls.items()}

    def render(self, **overrides):
        """Render with the current control values (or `overrides`) and return what was drawn."""
        return self.render_fn(**{**self.values(), **overrides})

    def update(self) -> None:
        """Show the current values: drawn at once, or (a live run) trained on the background thread."""
        values = self.values()
        with self._lock:
            self._wanted += 1
            wanted = self._wanted
            message = self.pending and self.train and self.pending(**values)
            running = self._running
            if message and running is not None and running.message == message:
                running.wanted, running.values = wanted, values  # the same training: it goes on
            elif message:
                self._request = (wanted, values, message)
                if self._worker is None:
                    self._worker = threading.Thread(target=self._work, daemon=True)
                    self._worker.start()
        if message:
            self._show(
                _data({"text/html": f"<b>{html.escape(message)}</b>", "text/plain": message})
            )
        else:
            self._finish(wanted, values)

    def wait(self, timeout: float = 600.0) -> None:
        """Block until the background run (if any) has finished."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _work(self) -> None:
        """The background thread: the newest request, one at a time, until none is left."""
        while True:
            with self._lock:
                if self._request is None:
                    self._worker = None
                    return
                (wanted, values, message), self._request = self._request, None
                self._running = progress = _Progress(self, wanted, values, message)
            try:
                self.train(progress, **values)
            except Superseded:
                continue
            except Exception as e:
                w = progress.wanted
                if w == self._wanted:
                    self.call_soon(lambda e=e, w=w: w == self._wanted and self._error(e))
                continue
            finally:
                with self._lock:
                    self._running = None
                    wanted, values = progress.wanted, progress.values  # another target breed, say
            if wanted == self._wanted:
                self.call_soon(lambda w=wanted, v=values: self._finish(w, v))

    def _finish(self, wanted: int, values: dict) -> None:
        """Draw `values` unless a control moved since they were asked for."""
        if wanted != self._wanted:
            return
        try:
            shown = self.render_fn(**values)
        except Exception as e:
            return self._error(e)
        if wanted == self._wanted:
            self._show(*([] if shown is None else [_display_data(shown)]))
        if isinstance(shown, plt.Figure):
            plt.close(shown)

    def _error(self, e: Exception) -> None:
        """Show a failed run or drawing in the panel and keep it in `errors` (a widget callback's error
        reaches no log, and papermill never sees it)."""
        self.errors.append(e)
        text = "".join(traceback.format_exception_only(e)).strip()
        self._show(dict(output_type="stream", name="stderr", text=text + "\n"))

    def _show(self, *outputs: dict) -> None:
        self.out.outputs = tuple(outputs)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class _Progress:
    """A live run's progress hook: `progress(name, row)` per step draws "step k / n", the training loss and
    the forget-batch accuracy so far (at most every PROGRESS_EVERY s), and stops a superseded run."""

    def __init__(self, panel: Panel, wanted: int, values: dict, message: str):
        self.panel, self.wanted, self.values, self.message = panel, wanted, values, message
        self.rows, self.last = [], 0.0

    def __call__(self, name: str, row: dict) -> None:
        if self.panel._wanted != self.wanted:
            raise Superseded
        if self.rows and self.rows[-1][0] != name:
            self.rows = []  # the next run of the same request
        self.rows.append((name, row["loss"], row["forget_accuracy"]))
        step, total, now = row["step"] + 1, row["total"], time.monotonic()
        if step not in (1, total) and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        loss, acc = self.rows[-1][1:]
        text = f"running {name}: step {step} / {total}, training loss {loss:.3f}, "
        text += f"forget-batch accuracy {acc:.2f}" + ("; evaluating ..." if step == total else "")
        curves = _curves([r[1] for r in self.rows], [r[2] for r in self.rows], total)
        with self.panel._lock:  # a control moved meanwhile: nothing of this run is drawn again
            if self.panel._wanted != self.wanted:
                raise Superseded
            bold = {"text/html": f"<b>{html.escape(text)}</b>", "text/plain": text}
            self.panel._show(_data(bold), curves)


def _curves(losses: list[float], accuracies: list[float], total: int, w=640, h=150) -> dict:
    """An SVG of the training loss (from its lowest to its highest value so far) and the forget-batch
    accuracy (0 to 1) per step, on an x axis of `total` steps."""
    lo, hi = min(losses), max(losses)
    pad, plot_w, plot_h = 30, w - 230, h - 40

    def line(values, low, span, color):
        pts = " ".join(
            f"{pad + plot_w * i / max(total - 1, 1):.1f},{10 + plot_h * (1 - (v - low) / span):.1f}"
            for i, v in enumerate(values)
        )
        x, y = pts.rsplit(" ", 1)[-1].split(",")  # the latest step: a dot
        dot = f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>'
        return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>' + dot

    def text(x, y, words, color="#000"):
        return f'<text x="{x}" y="{y}" fill="{color}" font-size="12">{words}</text>'

    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">'
    svg += f'<rect x="{pad}" y="10" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>'
    svg += line(losses, lo, (hi - lo) or 1.0, "#1f77b4") + line(accuracies, 0.0, 1.0, "#d62728")
    svg += text(pad + plot_w + 10, 30, f"training loss ({lo:.3g} to {hi:.3g})", "#1f77b4")
    svg += text(pad + plot_w + 10, 50, "forget-batch accuracy (0 to 1)", "#d62728")
    svg += text(pad, h - 8, f"steps 1 to {total}") + "</svg>"
    return _data({"image/svg+xml": svg, "text/plain": "the training loss and accuracy so far"})


def _data(data: dict, metadata: dict | None = None) -> dict:
    """An Output widget's display_data output (bytes, e.g. a PNG, in base64 as a notebook stores them)."""
    data = {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in data.items()}
    return dict(output_type="display_data", data=data, metadata=metadata or {})


def _display_data(shown) -> dict:
    """What IPython shows of `shown` (in a kernel: as the inline backend, alternative text included;
    else a Figure's PNG), as an Output widget's output."""
    if get_ipython() is not None:
        return _data(*get_ipython().display_formatter.format(shown))
    if isinstance(shown, plt.Figure):
        png = print_figure(shown, "png", bbox_inches="tight")
        return _data({"image/png": png, "text/plain": repr(shown)}, {"alt": figure_alt(shown)})
    return _data({"text/plain": repr(shown)})


def _main_thread(fn: Callable) -> None:
    """Run `fn` on the kernel's own thread (its event loop), else here (no kernel: tests, scripts)."""
    loop = getattr(getattr(get_ipython(), "kernel", None), "io_loop", None)
    if loop is None:
        fn()
    else:
        loop.add_callback(fn)
