"""Is it really gone? The relearning attack: fine-tune a copy of each model with the pretraining objective on
a few `kt_lib.eval.attack_sets` captions and watch the forgotten fine accuracy come back; `summarize` gives
each curve `steps_to_half` and `residual` (its mean gap to the never-learned curve)."""

from __future__ import annotations

import copy
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from kt_lib.eval.attack_sets import ATTACKS, AttackSet, attack_set, captions
from kt_lib.eval.evaluator import compare
from kt_lib.presets import default_lr
from kt_lib.textenc import encode_text
from kt_lib.vocab import compact_vocabulary
from kt_lib.world.pretrain import multi_positive_loss
from kt_lib.zeroshot import accuracy, encode_images, model_device, predict, text_head

STEPS = (0, 1, 2, 4, 8, 16, 32)
KS = (1, 5, 10)
REFERENCE = "never-learned"


def _light(evaluator):
    """The evaluator with its in-domain test set only: what a curve needs."""
    ev = copy.copy(evaluator)
    ev.domains = {ev.in_domain: evaluator.domains[ev.in_domain]}
    ev.families = {}
    ev._cache = type(evaluator._cache)()
    return ev


def _forget_accuracy(model, exp, ds) -> float:
    """The forgotten concepts' fine accuracy from their test images alone (every fine head: = forget_fine)."""
    keep = torch.isin(ds.fine, torch.as_tensor(list(exp.forget_ids)))
    head = text_head(model, exp.tokenizer, exp.data.fine_names, ds.templates)
    return accuracy(predict(encode_images(model, ds.images[keep]), head), ds.fine[keep])


def _caption_tokens(exp, data: AttackSet, negatives, templates) -> dict:
    """Every caption a batch can draw (any template, any subset of the images), tokenized once."""
    every = np.arange(len(data.fine))
    texts = [t for tpl in templates for t in captions(data, every, negatives, tpl)[0]]
    texts = list(dict.fromkeys(texts))
    return dict(zip(texts, exp.tokenizer(texts)))


def relearn(
    exp, model, data: AttackSet, steps=STEPS, seed=0, evaluator=None, utility_every_step=False
) -> pd.DataFrame:
    """Fine-tune a copy of `model` on `data` (AdamW at `default_lr`, batches of 32): per step in `steps`
    forget_fine, and retain_fine and U at the first and last step (or `utility_every_step`)."""
    steps = sorted(set(int(s) for s in steps))
    if steps[0] < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    ev = evaluator or _light(exp.evaluator)
    before = ev.accuracies(exp.model, exp.tokenizer, exp.forget)
    model = copy.deepcopy(model).train()
    device = model_device(model)
    gen, rng = torch.Generator().manual_seed(seed), np.random.default_rng(seed)
    negatives = list(dict.fromkeys([*exp.data.fine_names, *exp.data.coarse_names]))
    templates = ev.domains[ev.in_domain].templates
    tokens = _caption_tokens(exp, data, negatives, templates)
    rows, done, opt = [], 0, None
    for target in steps:
        if opt is None and done < target:  # after step 0's evaluation: the model's own weights
            compact_vocabulary(model, tokens.values())
            params = [p for p in model.parameters() if p.requires_grad]
            adam = dict(betas=(0.9, 0.98), eps=1e-6, weight_decay=0.0)
            opt = torch.optim.AdamW(params, default_lr(model), **adam)
        while done < target:
            idx = torch.randperm(len(data.fine), generator=gen)[:32].numpy()
            template = templates[rng.integers(len(templates))]
            texts, positive = captions(data, idx, negatives, template)
            img = F.normalize(model.encode_image(data.images[idx].to(device)), dim=-1)
            txt = encode_text(model, torch.stack([tokens[t] for t in texts]).to(device), True)
            loss = multi_positive_loss(model.logit_scale.exp() * img @ txt.T, positive.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, np.log(100))
            done += 1
        model.eval()
        if utility_every_step or target in (steps[0], steps[-1]):
            after = ev.accuracies(model, exp.tokenizer, exp.forget)
            row = dict(retain_fine=after["retain_fine"], U=compare(before, after)["U"])
        else:
            after = dict(forget_fine=_forget_accuracy(model, exp, ev.domains[ev.in_domain]))
            row = dict(retain_fine=float("nan"), U=float("nan"))
        model.train()
        rows.append(dict(step=target, forget_fine=after["forget_fine"], **row))
    return pd.DataFrame(rows)


def curves(
    exp, models: dict, ks=KS, attacks=ATTACKS, steps=STEPS, family=None, seed=0
) -> pd.DataFrame:
    """The attack on every named model or run row: one row per (model, attack, k, step), each curve cached by
    `exp.derive`."""
    ev, frames, steps = _light(exp.evaluator), [], sorted(set(int(s) for s in steps))
    for attack in attacks:
        for k in ks:
            data = attack_set(exp, attack, k, family)
            for name, source in models.items():
                params = dict(attack=attack, k=k, family=family, steps=steps, seed=seed)
                compute = partial(relearn, exp, data=data, steps=steps, seed=seed, evaluator=ev)
                df = exp.derive(source, "relearn", compute, **params)
                frames.append(df.assign(model=name, attack=attack, k=k, images=len(data.fine)))
    cols = ["model", "attack", "k", "images", "step", "forget_fine", "retain_fine", "U"]
    return pd.concat(frames, ignore_index=True)[cols]


def summarize(frame: pd.DataFrame, original_accuracy: float) -> pd.DataFrame:
    """One row per curve: start and end accuracy, `steps_to_half` (back to half `original_accuracy`) and
    `residual` (mean gap to the never-learned curve)."""
    rows = []
    for (name, attack, k), g in frame.groupby(["model", "attack", "k"], sort=False):
        g = g.sort_values("step")
        back = g[g.forget_fine >= original_accuracy / 2]
        ref = frame[(frame.model == REFERENCE) & (frame.attack == attack) & (frame.k == k)]
        residual = None
        if len(ref):
            gap = g.set_index("step").forget_fine - ref.set_index("step").forget_fine
            residual = float(gap.dropna().mean())
        start, end = float(g.forget_fine.iloc[0]), float(g.forget_fine.iloc[-1])
        half = int(back.step.iloc[0]) if len(back) else None
        row = dict(model=name, attack=attack, k=k, start=start, end=end, end_U=float(g.U.iloc[-1]))
        rows.append(dict(row, steps_to_half=half, residual=residual))
    out = pd.DataFrame(rows)
    out["steps_to_half"] = out["steps_to_half"].astype("Int64")  # <NA>: not back within the grid
    return out


def cached_reference(model: str, pretrained, data_root, forget: list[str]) -> Path | None:
    """The cached never-learned world model without `forget`, or None (not made yet, or another model)."""
    from kt_lib.cachefile import cache_dir
    from kt_lib.world.config import WorldConfig
    from kt_lib.world.model import MODEL_NAME, checkpoint_name
    from kt_lib.world.pretrain import PretrainConfig

    if model != MODEL_NAME or pretrained is not None or data_root:
        return None
    path = cache_dir() / checkpoint_name(WorldConfig(), PretrainConfig(), forget)
    return path if path.exists() else None


def never_learned(forget, train: bool = False, progress: bool = True):
    """The world model pretrained without the breeds `forget`: cached, or pretrained now with `train`; else None."""
    from kt_lib.world.model import MODEL_NAME, world_model

    if not train and cached_reference(MODEL_NAME, None, None, forget) is None:
        return None
    return world_model(without=forget, progress=progress)[0]
