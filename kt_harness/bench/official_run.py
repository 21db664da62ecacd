"""The official-style run that `kt bench run` (`kt_harness.bench.bench_run`) times against the engine.

The same request and settings as `Experiment.run` trains, the way an official-style trainer runs them: the same
steps over the same forget images, batches and templates (in the trainer's order), each one `kt bench step`'s
BASELINE step (`kt_harness.bench.step_variants`: fp32, the frozen reference model forwarded every step, prompts over
the model's full text context with `model.encode_text`, plain non-fused Adam on the full token embedding) under
the trainer's cosine schedule; then the evaluation of scope "all" template by template: open_clip's
`build_zero_shot_classifier` over the full context (10 classes per batch, open_clip's default) for each test
domain's fine and coarse heads and each zero-shot family, image features encoded and scored batch by batch.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from open_clip.zero_shot_classifier import build_zero_shot_classifier

from kt_harness.bench.step_variants import BASELINE, StepSetup, make_optimizer, train_step
from kt_harness.bench.timing import sync
from kt_lib.eval.evaluator import compare, model_fingerprint
from kt_lib.losses import random_other_labels
from kt_lib.methods import Method, WithReference, get_method
from kt_lib.presets import default_lr
from kt_lib.zeroshot import TEMPLATES

CLASSES_PER_BATCH = 10  # open_clip's build_zero_shot_classifier default
EVAL_BATCH = 256  # the baseline's image batch


@torch.no_grad()
def official_predictions(model, tokenizer, evaluator, batch_size: int = EVAL_BATCH) -> dict:
    """The evaluator's predictions of scope "all", computed the official way: open_clip's
    `build_zero_shot_classifier` over the full context per head, images encoded and scored per batch."""
    device = next(model.parameters()).device

    def head(names, templates):
        return build_zero_shot_classifier(
            model, tokenizer, names, templates, CLASSES_PER_BATCH, device
        )

    def scored(images, heads):
        preds = [[] for _ in heads]
        for i in range(0, len(images), batch_size):
            feats = F.normalize(model.encode_image(images[i : i + batch_size].to(device)), dim=-1)
            for p, h in zip(preds, heads):
                p.append((100.0 * feats @ h).argmax(-1).cpu())
        return [torch.cat(p) for p in preds]

    out = {}
    for name, ds in evaluator.domains.items():
        heads = [
            head(evaluator.fine_names, ds.templates),
            head(evaluator.coarse_names, ds.templates),
        ]
        out[name] = dict(zip(("fine", "coarse"), scored(ds.images, heads)))
    for name, fs in evaluator.families.items():
        out["family:" + name] = scored(fs.images, [head(fs.classes, TEMPLATES["photo"])])[0]
    return out


def check_method(method: str) -> None:
    """Raise unless the baseline can run `method`: a plain loss method (no mask, task vector or projection)."""
    m = get_method(method)
    names = ("prepare", "after_step", "finish")
    hooks = [h for h in names if getattr(type(m), h) is not getattr(Method, h)]
    plain = hooks in ([], ["prepare"] if isinstance(m, WithReference) else [])
    if not plain or not m.compact_vocabulary:
        raise ValueError(
            f"the official-style baseline runs plain loss methods, not {method!r} (it hooks "
            f"{', '.join(hooks) or 'the vocabulary'}); e.g. nhl_kl, ga_kl, npo_kl"
        )


def run_baseline(exp, method: str, overrides: dict, eval_batch: int = EVAL_BATCH) -> dict:
    """One official-style run of the request and settings that `exp.run(method, **overrides)` trains (an
    `Experiment`; see the module docstring): seconds of setup, training and evaluation, losses, Q/U."""
    cfg = exp.config(method, **overrides)
    check_method(cfg.method)
    mechanics = (cfg.select, cfg.towers, cfg.optimizer, cfg.schedule, cfg.weight_decay)
    if mechanics != ("last", "both", "adam", "cosine_step", 0.0):
        raise ValueError(
            f"the official-style baseline runs select='last', towers='both', optimizer='adam', "
            f"schedule='cosine_step', weight_decay=0, got {mechanics}"
        )
    device = next(exp.model.parameters()).device
    tok, names = exp.tokenizer, (exp.data.fine_names, exp.data.coarse_names)
    t0 = time.perf_counter()
    model = copy.deepcopy(exp.model).train()
    reference = copy.deepcopy(exp.model).eval().requires_grad_(False)
    prompts = [
        tuple(tok([t.format(c) for c in n]).to(device) for n in names) for t in cfg.templates
    ]
    images, fine, coarse = exp.forget_set.tensors
    gen, rng = torch.Generator().manual_seed(cfg.seed), np.random.default_rng(cfg.seed)
    other = random_other_labels(fine.long(), len(names[0]), gen)  # drawn as the trainer draws them
    images, fine, coarse, other = (
        x.to(device) for x in (images, fine.long(), coarse.long(), other)
    )
    opt = make_optimizer(model, BASELINE, cfg.lr or default_lr(exp.model))
    total, num_epochs, per_epoch = cfg.budget(len(images))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total))
    loss_cfg, losses = cfg.loss_config(), []
    sync(device)
    t1 = time.perf_counter()
    for _ in range(num_epochs):  # the trainer's batches and templates, in its order
        order = torch.randperm(len(images), generator=gen)
        for b in range(min(per_epoch, total - len(losses))):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size].to(device)
            t = int(rng.integers(len(cfg.templates)))
            # no bank or cached logits: BASELINE encodes the full-context tokens, forwards the reference
            batch = (images[idx], fine[idx], coarse[idx], *prompts[t], None, reference, None, None)
            step = StepSetup(*batch, loss_cfg, method=cfg.method, other_labels=other[idx])
            losses.append(train_step(model, opt, step, BASELINE))
            sched.step()
    model.eval()
    sync(device)
    t2 = time.perf_counter()
    preds = official_predictions(model, tok, exp.evaluator, eval_batch)
    t3 = time.perf_counter()
    ev = copy.copy(exp.evaluator)  # its accuracies from these predictions (untimed)
    ev._cache = OrderedDict({model_fingerprint(model): preds})
    scores = compare(exp.before, ev.accuracies(model, tok, exp.forget), cfg.goal)
    return dict(
        total_s=t3 - t0,
        train_s=t2 - t1,
        setup_s=t1 - t0,
        eval_s=t3 - t2,
        method=cfg.method,
        losses=losses,
        scores={k: scores.get(k) for k in ("Q", "U", "QU")},
    )
