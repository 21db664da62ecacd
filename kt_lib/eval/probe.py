"""Knowledge probes: does the model still *know* a forgotten concept in ways zero-shot accuracy misses?

- **Linear probe**: a logistic-regression head trained on frozen image features of the proxy pool and
  tested on the test images. If unlearning only renamed the concept's text embedding, the image tower
  still separates the breed and the probe still recognises it.
- **Paraphrases**: zero-shot accuracy with prompt wordings never used in pretraining or unlearning.
"""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from kt_lib.eval.memo import memo
from kt_lib.zeroshot import PARAPHRASES, accuracy, encode_images, predict, text_head


def fit_linear_probe(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    steps: int = 100,
    weight_decay: float = 1e-4,
) -> torch.nn.Linear:
    """Multinomial logistic regression on fixed features (L-BFGS, deterministic)."""
    features, labels = features.float().cpu(), labels.long().cpu()
    head = torch.nn.Linear(features.shape[1], num_classes)
    torch.nn.init.zeros_(head.weight), torch.nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(
        head.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(head(features), labels) + weight_decay * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head


def probe_accuracy(
    model, train, test, num_classes: int, classes: list[int], test_features=None
) -> dict[str, float]:
    """Linear-probe accuracy on `classes` vs the other classes. `train`/`test` are (images, fine) pairs;
    `test_features`: the test images' features when the caller has them already."""
    head = fit_linear_probe(encode_images(model, train[0]), train[1], num_classes)
    feats = encode_images(model, test[0]) if test_features is None else test_features
    with torch.no_grad():
        pred = head(feats.cpu()).argmax(-1)
    is_f = torch.isin(test[1], torch.tensor(classes))
    return dict(
        forget=accuracy(pred[is_f], test[1][is_f]), retain=accuracy(pred[~is_f], test[1][~is_f])
    )


def paraphrase_accuracy(
    model,
    tokenizer,
    images,
    fine,
    fine_names,
    classes: list[int],
    templates=PARAPHRASES,
    features=None,
) -> dict:
    """Zero-shot accuracy on `classes` (and the rest) with each unseen prompt wording (`features`: the
    images' features when the caller has them already)."""
    feats = encode_images(model, images) if features is None else features
    is_f = torch.isin(fine, torch.tensor(classes))
    out = {}
    for tpl in templates:
        pred = predict(feats, text_head(model, tokenizer, fine_names, (tpl,)))
        out[tpl] = dict(
            forget=accuracy(pred[is_f], fine[is_f]), retain=accuracy(pred[~is_f], fine[~is_f])
        )
    return out


def knowledge_probe(exp, unlearned, domain: str = "photo") -> pd.DataFrame:
    """Before/after table for an Experiment and an unlearned model or run row (`Experiment.run`): zero-shot,
    linear probe, paraphrases. Each model's half is cached through `exp.derive` (`kt_lib.eval.memo`)."""
    rows = []
    for when, source in (("before", exp.model), ("after", unlearned)):
        half = memo(
            exp, source, "knowledge_probe", lambda m: _probe_rows(exp, m, domain), domain=domain
        )
        rows += [dict(r, when=when) for r in half]
    df = pd.DataFrame(rows)
    return df.pivot(index="probe", columns="when", values=["forget", "retain"]).reindex(
        df.probe.unique()
    )


def _probe_rows(exp, model, domain: str) -> list[dict]:
    test = exp.evaluator.domains[domain]
    images, fine, _ = exp.data.proxy_pool.tensors
    n = len(exp.data.fine_names)
    zs = exp.evaluator.accuracies(model, exp.tokenizer, exp.forget, scope="in_domain")
    feats = encode_images(model, test.images)  # once, for the linear probe and the paraphrases
    rows = [
        dict(
            probe="zero-shot (training prompts)", forget=zs["forget_fine"], retain=zs["retain_fine"]
        ),
        dict(
            probe="linear probe on image features",
            **probe_accuracy(
                model, (images, fine), (test.images, test.fine), n, exp.forget_ids, feats
            ),
        ),
    ]
    for tpl, acc in paraphrase_accuracy(
        model,
        exp.tokenizer,
        test.images,
        test.fine,
        exp.data.fine_names,
        exp.forget_ids,
        features=feats,
    ).items():
        rows.append(dict(probe=f"paraphrase: {tpl!r}", **acc))
    return rows
