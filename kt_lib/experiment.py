"""One knowledge request on one model: the proxy forgetting set, the evaluation, and cached method runs.

    exp = Experiment(["German short-haired pointer", "Samoyed"])     # the embedded world, defaults
    row = exp.run("nhl_kl")                                          # Q, U, Q-U, OOD, zero-shot, settings
    exp.compare(["ga", "ga_kl", "nhl_kl"])                           # a tidy DataFrame

Every run is keyed by everything that decides its result (`Experiment.key`) and kept in `exp.cache`, by
default this machine's run cache (`kt_lib.cache.machine_cache`, shared with every notebook, script and `kt
unlearn`; `cache=None` keeps rows in memory only): the same settings asked twice, in any process, train once.
The row holds scores, not the model: `exp.result(row)` gives the `UnlearnResult` (model, history): kept,
stored beside the cache by whichever process trained it (small models), else trained again. Names go
through the source's taxonomy (a group forgets all its breeds; unknown names raise with suggestions);
`data=manifest_source(...)` runs on real images (`kt_lib.sources`). `preset="paper"` fills every setting a
run does not give from the official setup for the method and dataset (`kt_lib.presets`); `lr` unset is the
model's `default_lr`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, replace
from functools import cached_property

import pandas as pd
import torch

from kt_lib.cache import RunCache, machine_cache, table
from kt_lib.derived import Derived, Kept
from kt_lib.eval.evaluator import compare, model_fingerprint
from kt_lib.integrity import check_run
from kt_lib.presets import dataset_of, default_lr, layer_settings, preset
from kt_lib.prompts import PromptBank, clip_logits
from kt_lib.sources import DataSource, first_per_class, world_source
from kt_lib.unlearn import ENGINE_VERSION, UnlearnConfig, UnlearnResult, unlearn
from kt_lib.zeroshot import template_set

MODELS_DIR = "models"  # where `Kept` stores small unlearned models, beside the run cache file
DEFAULT_FORGET = (
    "German short-haired pointer",
    "West Highland white terrier",
    "golden retriever",
    "Samoyed",
)
# the settings every row carries (besides its scores)
SETTINGS = ("method", "lr", "num_steps", "num_epochs", "margin", "alpha_coarse", "alpha_fine")
SETTINGS += ("seed", "towers", "samples_per_class")


class Experiment:
    """The model, the proxy forget set (`samples_per_class` exemplars per concept from the source's proxy
    pool, never from test), an Evaluator ('before' computed once) and a `RunCache` of finished runs
    (`cache`: "machine", the default, for `kt_lib.cache.machine_cache`; a RunCache; a JSON-lines path; or
    None: this experiment's memory only, so a new process trains again)."""

    DEFAULT_FORGET = DEFAULT_FORGET

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
        cache="machine",
        **defaults,
    ):
        from kt_lib.models import load_model

        self.preset, self.settings = preset, defaults
        self.defaults = self._resolve({}, model_lr=1.0)  # fail early, before the model loads
        if model is None:
            model, _, tokenizer = load_model(device=device, progress=True)
        elif tokenizer is None:
            raise ValueError("pass the tokenizer together with the model")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.data = data or world_source(eval_per_class=eval_per_class)
        self.defaults = self._resolve({})
        self.evaluator = self._evaluator(self.defaults.template_set)
        self.forget = self.data.compile_forget(forget)
        self.forget_ids = [self.data.fine_names.index(f) for f in self.forget]
        self.samples_per_class = samples_per_class
        self.forget_set = self.exemplars()
        if not isinstance(cache, RunCache):
            cache = machine_cache() if cache == "machine" else RunCache(cache)
        models = cache.path.parent / MODELS_DIR if cache.path else None  # beside the cache file
        self.cache, self.kept = cache, Kept(folder=models)  # the latest unlearned models
        # derive(source, name, compute, **params): compute(model) of a run row or a model, cached
        self.derive = Derived(cache, self.key, self.result)

    def _preset(self, method: str, model_lr: float | None = None) -> dict:
        """The preset's settings for `method` on this dataset (`kt_lib.presets.preset`)."""
        data = getattr(self, "data", None)
        dataset = dataset_of(data.taxonomy.name if data is not None else None)
        return preset(self.preset, method, dataset, model_lr or default_lr(self.model))

    def _resolve(self, overrides: dict, model_lr: float | None = None) -> UnlearnConfig:
        """The preset's settings for the method and dataset, under the experiment's, under `overrides`."""
        method = overrides.get("method") or self.settings.get("method", "nhl_kl")
        settings = layer_settings(self._preset(method, model_lr), self.settings, overrides)
        return UnlearnConfig(**settings)

    def _evaluator(self, templates: str | None):
        """The source's evaluator, with its in-domain test set read through `templates` if named."""
        if templates is None:
            return self.data.evaluator
        ev = copy.copy(self.data.evaluator)
        domain = replace(ev.domains[ev.in_domain], templates=template_set(templates))
        ev.domains = {**ev.domains, ev.in_domain: domain}
        ev._cache = type(ev._cache)()  # its own predictions: the templates differ
        return ev

    @property
    def eval_templates(self) -> tuple[str, ...]:
        return tuple(self.evaluator.domains[self.evaluator.in_domain].templates)

    def exemplars(self, samples_per_class: int | None = None):
        """The proxy forgetting set: `samples_per_class` (default the experiment's: `forget_set`) images of
        each forgotten concept, (image, fine, coarse)."""
        spc = samples_per_class or self.samples_per_class
        if spc == self.samples_per_class and "forget_set" in vars(self):
            return self.forget_set
        return first_per_class(self.data.proxy_pool, self.forget_ids, spc)

    @cached_property
    def before(self) -> dict:
        """The original model's accuracies (computed once)."""
        args = (self.model, self.tokenizer, self.forget)
        return self.evaluator.accuracies(*args, fingerprint=self.fingerprint)

    @cached_property
    def fingerprint(self) -> str:
        """A hash of the original model's weights (the model is never modified)."""
        return model_fingerprint(self.model)

    def config(self, method: str | None = None, **overrides) -> UnlearnConfig:
        """The resolved settings of one run (see `_resolve`)."""
        return self._resolve({**overrides, **({"method": method} if method else {})})

    def key(
        self,
        samples_per_class: int | None = None,
        scope: str | None = "all",
        config=None,
        **overrides,
    ) -> str:
        """The cache key of a run: the resolved config, the request, a checksum of the exemplar images,
        the test-set sizes, the model's weights, the evaluation's scope (None: the unlearned model's key,
        any scope) and the engine's version (a change to the engine that can change results bumps
        `kt_lib.unlearn.ENGINE_VERSION`). `config`: the resolved UnlearnConfig, instead of `overrides`."""
        cfg = asdict(config or self.config(**overrides))
        cfg.pop("progress", None)
        spc = samples_per_class or self.samples_per_class
        images, fine, _ = self.exemplars(spc).tensors
        sums = (images.double().sum(), images.double().abs().sum())
        exemplars = [*(round(float(x), 4) for x in sums), fine.tolist()]
        spec = dict(
            config=cfg,
            forget=list(self.forget),
            samples_per_class=spc,
            exemplars=exemplars,
            data=self.data.name,
            test_sizes={k: len(d.images) for k, d in self.evaluator.domains.items()},
            model=self.fingerprint,
            eval_templates=list(self.eval_templates),
            scope=scope,
            engine=ENGINE_VERSION,
        )
        text = json.dumps(spec, sort_keys=True, default=list)
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def prompts(self, template: int = 0):
        """`prompts(model) -> (fine, coarse)`: normalised features of every breed and group prompt in the
        defaults' `template`-th wording, the argument `unlearn_step` takes."""
        device = next(self.model.parameters()).device
        names = (self.data.fine_names, self.data.coarse_names)
        bank = PromptBank(
            self.tokenizer, *names, self.defaults.templates[template : template + 1], device
        )
        return lambda model: bank.features(model, 0)

    @torch.no_grad()
    def logits(self, model, images, template: int = 0):
        """`model`'s (fine, coarse) CLIP logits on `images` (no gradient), e.g. the reference of a step."""
        prompts = self.prompts(template)
        images = images.to(next(model.parameters()).device)
        return tuple(x.float() for x in clip_logits(model, images, *prompts(model)))

    def unlearn(
        self, method: str | None = None, samples_per_class: int | None = None, **overrides
    ) -> UnlearnResult:
        """Train once with these settings (no cache, no evaluation): the unlearned model and its history."""
        return self._unlearn(self.config(method, **overrides), samples_per_class)

    def _unlearn(self, cfg: UnlearnConfig, samples_per_class, on_step=None) -> UnlearnResult:
        images, fine, coarse = self.exemplars(samples_per_class).tensors
        names = (self.data.fine_names, self.data.coarse_names)
        return unlearn(
            self.model, self.tokenizer, images, fine, coarse, *names, cfg, on_step=on_step
        )

    def evaluate(
        self, model, goal: str | None = None, scope: str = "all", fingerprint=None
    ) -> dict:
        """Accuracies of `model` and its scores (for `goal`, default the experiment's) against 'before';
        `scope="in_domain"` measures only what Q and U need (no OOD domains, no zero-shot families)."""
        after = self.evaluator.accuracies(model, self.tokenizer, self.forget, scope, fingerprint)
        return dict(after=after, **compare(self.before, after, goal or self.defaults.goal))

    def run(
        self,
        method: str | None = None,
        label: str | None = None,
        samples_per_class: int | None = None,
        scope: str = "all",
        on_step=None,
        **overrides,
    ) -> dict:
        """The row of these settings: from the cache when they ran before (in any process sharing it), else
        unlearned, evaluated and cached. One flat row of scores (Q, U, QU, OOD, zero-shot, `after_*`), the
        settings, `per_concept` (each forgotten concept's fine accuracy before/after per test domain),
        `history` (per step), and `key` and `call` (the run's cache key and arguments). The model is not in
        the row: `result(row)` gives it. `scope="in_domain"` evaluates only Q and U (and `per_concept` in
        domain): what a panel needs; a cached full-scope row of the same settings answers it too. `on_step`:
        `unlearn`'s progress hook (called only when the settings train)."""
        if scope not in ("all", "in_domain"):  # before a cached full-scope row could answer it
            raise ValueError(f"scope must be 'all' or 'in_domain', got {scope!r}")
        cfg = self.config(method, **overrides)  # resolved once: the key, the training, the checks
        key = self.key(samples_per_class, scope, cfg)
        spc = samples_per_class or self.samples_per_class
        call = dict(samples_per_class=spc, scope=scope, **({"method": method} if method else {}))
        call.update(overrides)
        with self.cache.claim(key):  # another process training these settings now: wait for its row
            row = self.cached(samples_per_class, scope, cfg)
            if row is None:
                row = self._train(key, cfg, label, spc, scope, on_step)
        return dict(row, label=label or row["method"], key=key, call=call)

    def result(self, row: dict) -> UnlearnResult:
        """The `UnlearnResult` (model, history, seconds, info) of a row from `run`: the one this experiment
        trained (the latest are kept in memory: `kt_lib.derived.Kept`), or stored on disk beside the cache
        file by any process that trained it (small models), else trained again from the row's `call` without
        evaluating it (the same settings and seed give the same model)."""
        if "call" not in row:
            raise ValueError("pass a row returned by Experiment.run (it records its key and call)")
        call = {k: v for k, v in row["call"].items() if k != "scope"}
        spc = call.pop("samples_per_class")
        cfg = self.config(**call)
        key = self.key(spc, None, cfg)  # the model's, whatever scope evaluated it
        result = self.kept.get(key) or self.kept.load(key, self.model)
        if result is None:
            result = self._unlearn(cfg, spc)
            self.kept.put(key, result)
        return result

    def _train(self, key, cfg: UnlearnConfig, label, spc, scope, on_step=None) -> dict:
        result = self._unlearn(cfg, spc, on_step)
        self.kept.put(self.key(spc, None, cfg), result)
        fingerprint = model_fingerprint(result.model)  # hashed once for the evaluation's look-ups
        scores = self.evaluate(result.model, result.info["config"]["goal"], scope, fingerprint)
        cfg = result.info["config"]
        row = dict(label=label or cfg["method"], **{k: cfg[k] for k in SETTINGS if k in cfg})
        row.update(samples_per_class=spc, forget=" | ".join(self.forget))
        row.update({k: v for k, v in scores.items() if k != "after"})
        row.update({f"after_{k}": v for k, v in scores["after"].items()})
        row.update(seconds=result.seconds, stopped=result.stopped, steps=result.info["steps"])
        row.update(result.efficiency)  # peak memory, parameters changed (kt_lib.unlearn.EFFICIENCY)
        row.update(selected_epoch=result.info["selected_epoch"])
        before, after = (self.model, self.fingerprint), (result.model, fingerprint)
        per_concept = self.evaluator.concept_changes(
            before, after, self.tokenizer, self.forget, scope
        )
        row.update(scope=scope, per_concept=per_concept)
        row["history"] = result.history.to_dict("records")  # per step: loss and its parts, lr
        own = None if self.preset == "default" else self._preset(cfg["method"])
        row["flags"] = check_run(row, result, self.model, preset=own, preset_name=self.preset)
        self.cache.put(key, row)
        return row

    def cached(
        self, samples_per_class: int | None = None, scope: str = "all", config=None, **overrides
    ) -> dict | None:
        """The cached row of these settings, or None; a full-scope row also answers scope='in_domain'."""
        config = config or self.config(**overrides)
        for s in dict.fromkeys([scope, "all"]):
            row = self.cache.get(self.key(samples_per_class, s, config))
            if row is not None:
                return row
        return None

    def compare(self, methods, **overrides) -> pd.DataFrame:
        """A table with one (cached) run per method name or (label, overrides) pair."""
        pairs = [(m, {"method": m}) if isinstance(m, str) else m for m in methods]
        rows = [self.run(label=lab, **{**overrides, **kw}) for lab, kw in pairs]
        return table(rows)
