"""One knowledge request on one model: the proxy forgetting set, the evaluation, and method runs.

    exp = Experiment(["German short-haired pointer", "Samoyed"])     # the embedded world, defaults
    row = exp.run("nhl_kl")                                          # Q, U, Q-U, OOD, zero-shot, seconds
    table = exp.compare(["ga", "ga_kl", "nhl_kl"])                   # a tidy DataFrame

Names are compiled through the source's taxonomy: a group ("terrier") forgets all its breeds, and
unknown names raise with close-match suggestions. `data=manifest_source(...)` runs the same request on
real images (see `kt_lib.knowledge.sources`). `preset="paper"` takes every setting the run does not give
from the official training setup for the method and dataset (`kt_lib.presets`), including evaluation with
the 80 OpenAI templates; `lr` left unset is the model's own rate (`default_lr`).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pandas as pd

from kt_lib.eval.evaluator import compare
from kt_lib.eval.zeroshot import template_set
from kt_lib.knowledge.sources import DataSource, first_per_class, world_source
from kt_lib.presets import dataset_of, default_lr, preset
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
        preset: str = "default",
        **defaults,
    ):
        from kt_lib.models import load_model

        self.preset, self.settings = preset, defaults
        self.defaults = UnlearnConfig(**self._settings(None, {}, model_lr=1.0))  # fail early
        if model is None:
            model, _, tokenizer = load_model(device=device, progress=True)
        elif tokenizer is None:
            raise ValueError("pass the tokenizer together with the model")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.data = data or world_source(eval_per_class=eval_per_class)
        self.defaults = UnlearnConfig(**self._settings(None, {}))
        self.evaluator = self._evaluator(self.defaults.template_set)
        self.forget = self.data.compile_forget(forget)
        self.forget_ids = [self.data.fine_names.index(f) for f in self.forget]
        self.samples_per_class = samples_per_class
        self.forget_set = self.exemplars(samples_per_class)
        self._before = None

    def _settings(self, method: str | None, overrides: dict, model_lr: float | None = None) -> dict:
        """The preset's settings for `method` and this dataset, under the experiment's, under `overrides`."""
        method = method or overrides.get("method") or self.settings.get("method", "nhl_kl")
        data = getattr(self, "data", None)
        dataset = dataset_of(data.taxonomy.name if data is not None else None)
        if model_lr is None:
            model_lr = default_lr(self.model)
        return {**preset(self.preset, method, dataset, model_lr), **self.settings, **overrides}

    def _evaluator(self, templates: str | None):
        """The source's evaluator, with its in-domain test set read through `templates` if named."""
        if templates is None:
            return self.data.evaluator
        ev = copy.copy(self.data.evaluator)
        ev.domains = dict(ev.domains)
        ev.domains[ev.in_domain] = replace(
            ev.domains[ev.in_domain], templates=template_set(templates)
        )
        ev._cache = {}
        return ev

    @property
    def eval_templates(self) -> tuple[str, ...]:
        return tuple(self.evaluator.domains[self.evaluator.in_domain].templates)

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
        cfg = UnlearnConfig(
            **self._settings(method, {**overrides, **({"method": method} if method else {})})
        )
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

    def evaluate(self, model, goal: str | None = None) -> dict:
        """Accuracies of `model` and its scores (for `goal`, default the experiment's) against 'before'."""
        after = self.evaluator.accuracies(model, self.tokenizer, self.forget)
        return dict(after=after, **compare(self.before, after, goal or self.defaults.goal))

    def run(
        self,
        method: str | None = None,
        label: str | None = None,
        samples_per_class: int | None = None,
        **overrides,
    ) -> dict:
        """Unlearn, evaluate, and return one flat row (plus the result under 'result')."""
        result = self.unlearn(method, samples_per_class, **overrides)
        scores = self.evaluate(result.model, result.info["config"]["goal"])
        row = dict(
            method=label or result.info["config"]["method"],
            samples_per_class=samples_per_class or self.samples_per_class,
            **{k: v for k, v in scores.items() if k != "after"},
        )
        row.update({f"after_{k}": v for k, v in scores["after"].items()})
        row.update(seconds=result.seconds, stopped=result.stopped, result=result)
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
