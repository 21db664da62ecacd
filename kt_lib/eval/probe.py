"""Knowledge probes: does the model still *know* a forgotten concept? A linear probe on frozen image features
finds a breed whose text embedding alone was renamed; paraphrases test wordings never trained on."""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from kt_lib.zeroshot import PARAPHRASES, accuracy, encode_images, predict, text_head


def fit_linear_probe(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> torch.nn.Linear:
    """Multinomial logistic regression on fixed features (L-BFGS, 100 iterations, L2 1e-4; deterministic)."""
    features, labels = features.float().cpu(), labels.long().cpu()
    head = torch.nn.Linear(features.shape[1], num_classes)
    torch.nn.init.zeros_(head.weight), torch.nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(head(features), labels) + 1e-4 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head


def knowledge_probe(exp, unlearned, domain: str = "photo") -> pd.DataFrame:
    """Before/after table of `measures` for an unlearned model or run row, each half cached by `exp.derive`."""
    rows = []
    for when, source in (("before", exp.model), ("after", unlearned)):
        half = exp.derive(
            source, "knowledge_probe", lambda m: measures(exp, m, domain), domain=domain
        )
        rows += [dict(r, when=when) for r in half]
    df = pd.DataFrame(rows)
    return df.pivot(index="probe", columns="when", values=["forget", "retain"]).reindex(
        df.probe.unique()
    )


def measures(exp, model, domain: str = "photo") -> list[dict]:
    """Forget and retain accuracy on `domain`: zero-shot, a linear probe (trained on the proxy pool) and
    each of `PARAPHRASES`."""
    test, names = exp.evaluator.domains[domain], exp.data.fine_names
    images, fine, _ = exp.data.proxy_pool.tensors
    zs = exp.evaluator.accuracies(model, exp.tokenizer, exp.forget, scope="in_domain")
    feats = encode_images(model, test.images)  # once, for the linear probe and the paraphrases
    head = fit_linear_probe(encode_images(model, images), fine, len(names))
    is_f = torch.isin(test.fine, torch.tensor(exp.forget_ids))

    def split(pred):
        f, r = (pred[is_f], test.fine[is_f]), (pred[~is_f], test.fine[~is_f])
        return dict(forget=accuracy(*f), retain=accuracy(*r))

    with torch.no_grad():
        probe = split(head(feats.cpu()).argmax(-1))
    rows = [
        dict(
            probe="zero-shot (training prompts)", forget=zs["forget_fine"], retain=zs["retain_fine"]
        ),
        dict(probe="linear probe on image features", **probe),
    ]
    for tpl in PARAPHRASES:
        pred = predict(feats, text_head(model, exp.tokenizer, names, (tpl,)))
        rows.append(dict(probe=f"paraphrase: {tpl!r}", **split(pred)))
    return rows
