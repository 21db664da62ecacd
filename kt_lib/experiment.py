"""One knowledge request on one model: the proxy forgetting set, the evaluation, and method runs.

    exp = Experiment(["German short-haired pointer", "Samoyed"])     # the embedded world, defaults
    row = exp.run("nhl_kl")                                          # Q, U, Q-U, OOD, zero-shot, seconds
    table = exp.compare(["ga", "ga_kl", "nhl_kl"])                   # a tidy DataFrame

Names are compiled through the source's taxonomy: a group ("terrier") forgets all its breeds, and
unknown names raise with close-match suggestions. `data=manifest_source(...)` runs the same request on
real images (see `kt_lib.knowledge.sources`).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from kt_lib.eval.evaluator import compare
from kt_lib.integrity import check_run
from kt_lib.knowledge.sources import DataSource, first_per_class, world_source
from kt_lib.unlearn import UnlearnConfig, UnlearnResult, unlearn

DEFAULT_FORGET = (
    "German short-haired pointer",
    "West Highland white terrier",
    "golden retriever",
    "Samoyed",
)


class Experiment:
    """Holds the model, the proxy forget set (`samples_per_class` exemplars per forgotten concept from the
    source's proxy pool, never from test) and an Evaluator whose 'before' accuracies are computed once."""

    def __init__(
        self,
        forget=DEFAULT_FORGET,
        model=None,
        tokenizer=None,
        samples_per_class: int = 30,
        eval_per_class: int | None = None,
        data: DataSource | None = None,
        device="auto",
        **defaults,
    ):
        from kt_lib.models import load_model

        self.defaults = UnlearnConfig(**defaults)  # bad settings fail before any heavy work
        if model is None:
            model, _, tokenizer = load_model(device=device, progress=True)
        elif tokenizer is None:
            raise ValueError("pass the tokenizer together with the model")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.data = data or world_source(eval_per_class=eval_per_class)
        self.evaluator = self.data.evaluator
        self.forget = self.data.compile_forget(forget)
        self.forget_ids = [self.data.fine_names.index(f) for f in self.forget]
        self.samples_per_class = samples_per_class
        self.forget_set = self.exemplars(samples_per_class)
        self._before = None

    def exemplars(self, samples_per_class: int):
        """The proxy forgetting set: `samples_per_class` images of each forgotten concept, (image, fine, coarse)."""
        return first_per_class(self.data.proxy_pool, self.forget_ids, samples_per_class)

    @property
    def before(self) -> dict:
        if self._before is None:
            self._before = self.evaluator.accuracies(self.model, self.tokenizer, self.forget)
        return self._before

    def unlearn(
        self, method: str | None = None, samples_per_class: int | None = None, **overrides
    ) -> UnlearnResult:
        cfg = replace(self.defaults, **({"method": method} if method else {}), **overrides)
        images, fine, coarse = (
            self.exemplars(samples_per_class) if samples_per_class else self.forget_set
        ).tensors
        return unlearn(
            self.model,
            self.tokenizer,
            images,
            fine,
            coarse,
            self.data.fine_names,
            self.data.coarse_names,
            cfg,
        )

    def evaluate(self, model) -> dict:
        """Accuracies of `model` and its scores against the original ('before')."""
        after = self.evaluator.accuracies(model, self.tokenizer, self.forget)
        return dict(after=after, **compare(self.before, after))

    def run(
        self,
        method: str | None = None,
        label: str | None = None,
        samples_per_class: int | None = None,
        **overrides,
    ) -> dict:
        """Unlearn, evaluate, and return one flat row (plus the result under 'result')."""
        result = self.unlearn(method, samples_per_class, **overrides)
        scores = self.evaluate(result.model)
        row = dict(
            method=label or result.info["config"]["method"],
            samples_per_class=samples_per_class or self.samples_per_class,
            **{k: v for k, v in scores.items() if k != "after"},
        )
        row.update({f"after_{k}": v for k, v in scores["after"].items()})
        row.update(seconds=result.seconds, stopped=result.stopped, result=result)
        row["flags"] = check_run(row, result, self.model)  # kt_lib.integrity; [] when all is well
        return row

    def compare(self, methods, **overrides) -> pd.DataFrame:
        """One row per method name or (label, overrides) pair, without the heavy result objects."""

        def one(m):
            label, kw = (m, {"method": m}) if isinstance(m, str) else (m[0], m[1])
            return self.run(label=label, **{**overrides, **kw})

        return frame(one(m) for m in methods)


def frame(rows, drop=("result",)) -> pd.DataFrame:
    """A DataFrame of `Experiment.run` rows without their heavy `result` objects (and any other `drop` keys)."""
    return pd.DataFrame([{k: v for k, v in row.items() if k not in drop} for row in rows])
