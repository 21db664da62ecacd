"""Which epoch a run keeps (`UnlearnConfig.select`): the last, the official trainer's (lowest training
forget-fine accuracy) or the best on a held-out split of the proxy images."""

from __future__ import annotations

from kt_lib.methods.base import snapshot
from kt_lib.metrics import harmonic
from kt_lib.prompts import ensemble_reference
from kt_lib.zeroshot import accuracy, encode_images, predict, text_head


def select_epoch(run, epoch, rows, best, holdout, score_fn):
    """After an epoch: keep the epoch's weights when `cfg.select` says they are the best so far."""
    model, cfg = run.model, run.cfg
    if cfg.select == "min_forget_fine":  # the official rule: lowest training forget-fine acc
        model.eval()
        fine = ensemble_reference(model, run.images, run.bank)[0][0]
        acc = (fine.argmax(-1) == run.fine_labels).float().mean().item()
        rows[-1]["train_forget_fine"] = acc
        if -acc > best[0]:
            best = (-acc, snapshot(model, device=None), epoch)
        model.train()
    if holdout is not None:
        score = (score_fn or holdout_score)(
            model, *holdout, fine_names=run.fine_names, coarse_names=run.coarse_names,
            tokenizer=run.tokenizer, reference=run.original,
        )  # fmt: skip
        rows[-1]["holdout_score"] = score
        if score > best[0]:
            best = (score, snapshot(model, device=None), epoch)
        model.train()
    return best


def holdout_score(model, images, fine, coarse, fine_names, coarse_names, tokenizer, reference):
    """Model selection without test data: on held-out proxy images, harmonic mean of fine forgetting
    (1 - acc/acc_ref) and coarse retention (min(1, acc/acc_ref))."""

    def accs(m):
        feats = encode_images(m, images)
        return (
            accuracy(predict(feats, text_head(m, tokenizer, fine_names)), fine),
            accuracy(predict(feats, text_head(m, tokenizer, coarse_names)), coarse),
        )

    (f0, c0), (f1, c1) = accs(reference), accs(model)
    q = 1 - f1 / f0 if f0 > 0 else 0.0
    u = min(1.0, c1 / c0) if c0 > 0 else 1.0
    return harmonic(q, u)
