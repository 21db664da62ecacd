"""Evaluation of a request: forget/retain accuracies in and out of domain, zero-shot utility, Q / U / Q-U; an
`Evaluator` caches each model's predictions (`persist`: once per machine, through a `RunCache`)."""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from kt_lib.metrics import ACC_KEYS, NothingToForget, goal_keys, harmonic, quality, utility
from kt_lib.unlearn import ENGINE_VERSION
from kt_lib.zeroshot import accuracy, encode_images, predict, text_head


@dataclass
class EvalSet:
    """Test images of one domain with fine and coarse labels, and the prompt templates to read them."""

    images: torch.Tensor
    fine: torch.Tensor
    coarse: torch.Tensor
    templates: tuple[str, ...]


@dataclass
class FamilySet:
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]


def model_fingerprint(model) -> str:
    """A short hash of the weights: CPU tensors byte for byte, a GPU tensor by its float64 sum, sum of
    squares and cos-weighted sum (no copy to the host)."""
    digest = hashlib.blake2b(digest_size=8)
    for name, p in model.named_parameters():
        x = p.detach()
        if x.device.type != "cpu":
            x = x.double().flatten()
            weights = torch.arange(len(x), dtype=torch.float64, device=x.device).cos()
            x = torch.stack([x.sum(), x.square().sum(), (x * weights).sum()]).cpu()
        digest.update(f"{name}{tuple(p.shape)}".encode())
        digest.update(x.reshape(-1).contiguous().view(torch.uint8).numpy())
    return digest.hexdigest()


CACHED_MODELS = 8  # predictions are small: the original model and the last few unlearned ones


class Evaluator:
    """`domains`: name -> EvalSet ("photo" is in-domain, the others are OOD); `families`: name -> FamilySet."""

    def __init__(
        self, fine_names, coarse_names, fine_to_coarse, domains, families=None, in_domain="photo"
    ):
        self.fine_names, self.coarse_names = list(fine_names), list(coarse_names)
        self.fine_to_coarse = torch.tensor(fine_to_coarse)
        self.domains, self.families, self.in_domain = domains, families or {}, in_domain
        self._cache: OrderedDict[str, dict] = OrderedDict()  # fingerprint -> predictions
        self._store, self._stored, self._signatures = None, set(), {}  # persist()

    def persist(self, model, cache) -> None:
        """Keep `model`'s predictions in `cache` (a `RunCache`), keyed by weights, device, engine and data."""
        self._store = cache
        self._stored.add(model_fingerprint(model))

    def _stored_key(self, key: str, part: str, model) -> str:
        family = part.startswith("family:")
        data = self.families[part[len("family:") :]] if family else self.domains[part]
        sig = (part, id(data.images), tuple(data.images.shape), getattr(data, "templates", ()))
        if sig not in self._signatures:  # hashing the images costs ~0.1 s: once per part
            h = hashlib.sha1(data.images.detach().cpu().contiguous().numpy().tobytes())
            names = data.classes if family else self.fine_names + self.coarse_names
            h.update(repr((names, sig[3])).encode())
            self._signatures[sig] = h.hexdigest()[:16]
        device = next(model.parameters()).device.type
        return f"predictions:{key}:{device}:{self._signatures[sig]}:engine{ENGINE_VERSION}"

    def predictions(self, model, tokenizer, scope: str = "all", fingerprint=None) -> dict:
        """Predictions of `scope`'s parts ("all" or "in_domain"), once per model (`fingerprint`: its hash)."""
        if scope not in ("all", "in_domain"):
            raise ValueError(f"scope must be 'all' or 'in_domain', got {scope!r}")
        every = [*self.domains, *("family:" + n for n in self.families)]
        key = fingerprint or model_fingerprint(model)
        out = self._cache.setdefault(key, {})
        self._cache.move_to_end(key)
        missing = [p for p in ([self.in_domain] if scope == "in_domain" else every) if p not in out]
        if missing:
            model.eval()
        for part in missing:  # stored as lists; a family's labels under "labels"
            stored = self._stored_key(key, part, model) if key in self._stored else None
            value = self._store.get(stored) if stored else None
            if value is None:
                value = {k: v.tolist() for k, v in self._predict(model, tokenizer, part).items()}
                if stored:
                    self._store.put(stored, value)
            value = {k: torch.tensor(v, dtype=torch.long) for k, v in value.items()}
            out[part] = value.get("labels", value)
        while len(self._cache) > CACHED_MODELS:
            self._cache.popitem(last=False)
        return out

    def _predict(self, model, tokenizer, part: str) -> dict:
        """One part's predictions: {"fine", "coarse"} label tensors of a test domain, or a family's labels."""
        if part.startswith("family:"):
            fs = self.families[part[len("family:") :]]
            feats = encode_images(model, fs.images)
            return dict(labels=predict(feats, text_head(model, tokenizer, fs.classes)))
        ds = self.domains[part]
        feats = encode_images(model, ds.images)
        return dict(
            fine=predict(feats, text_head(model, tokenizer, self.fine_names, ds.templates)),
            coarse=predict(feats, text_head(model, tokenizer, self.coarse_names, ds.templates)),
        )

    def accuracies(
        self, model, tokenizer, forget: list[str], scope: str = "all", fingerprint=None
    ) -> dict:
        """forget/retain fine/coarse accuracies per domain (OOD ones prefixed), zero_shot and per family."""
        if missing := [f for f in forget if f not in self.fine_names]:
            known = ", ".join(self.fine_names[:6])
            raise KeyError(f"unknown concepts {missing}; known: {known}, ...")
        forget_ids = torch.tensor([self.fine_names.index(f) for f in forget])
        preds, out = self.predictions(model, tokenizer, scope, fingerprint), {}
        for name, ds in self.domains.items():
            if name not in preds:
                continue
            prefix = "" if name == self.in_domain else f"{name}_"
            is_f = torch.isin(ds.fine, forget_ids)
            p = preds[name]
            for part, sel in (("forget", is_f), ("retain", ~is_f)):
                out[f"{prefix}{part}_fine"] = accuracy(p["fine"][sel], ds.fine[sel])
                out[f"{prefix}{part}_coarse"] = accuracy(p["coarse"][sel], ds.coarse[sel])
        fam = {
            n: accuracy(preds["family:" + n], fs.labels)
            for n, fs in self.families.items()
            if "family:" + n in preds
        }
        if fam:
            out["zero_shot"] = float(np.mean(list(fam.values())))
            out.update({f"zero_shot_{n}": v for n, v in fam.items()})
        return out

    def concept_changes(self, before, after, tokenizer, concepts, scope: str = "all") -> list[dict]:
        """Each concept's fine accuracy per domain; `before`/`after`: (model, fingerprint or None) pairs."""
        b = self.per_class(before[0], tokenizer, scope, before[1])
        a = self.per_class(after[0], tokenizer, scope, after[1])
        merged = b.merge(a, on=["domain", "concept", "group"], suffixes=("_before", "_after"))
        merged = merged[merged.concept.isin(list(concepts))]
        merged = merged.rename(columns={"fine_before": "before", "fine_after": "after"})
        return merged[["concept", "group", "domain", "before", "after"]].to_dict("records")

    def per_class(self, model, tokenizer, scope: str = "all", fingerprint=None) -> pd.DataFrame:
        """One row per (domain, breed): fine and coarse accuracy, and how often a sibling is named instead."""
        preds, rows = self.predictions(model, tokenizer, scope, fingerprint), []
        for name, ds in self.domains.items():
            if name not in preds:
                continue
            p = preds[name]
            for c, breed in enumerate(self.fine_names):
                sel = ds.fine == c
                if not sel.any():
                    continue
                fp, group = p["fine"][sel], self.fine_to_coarse[c]
                sib = (self.fine_to_coarse[fp] == group) & (fp != c)  # a sibling named instead
                row = dict(domain=name, concept=breed, group=self.coarse_names[int(group)])
                row.update(
                    fine=accuracy(fp, ds.fine[sel]),
                    coarse=accuracy(p["coarse"][sel], ds.coarse[sel]),
                )
                rows.append(dict(row, sibling_errors=sib.float().mean().item(), n=int(sel.sum())))
        return pd.DataFrame(rows)


def compare(before: dict, after: dict, goal: str = "fine") -> dict:
    """Q, U, Q-U for `goal` in domain and per OOD domain, and zero-shot utility. A level unknown before gives
    Q None with a `nothing_to_forget` note, or is left out of U (`utility_skipped`)."""
    out = {}
    prefixes = {""} | {
        k[: -len("forget_fine")] for k in before if k.endswith("_forget_fine") and k in after
    }
    for prefix in sorted(prefixes):
        b = {k: before[prefix + k] for k in ACC_KEYS}
        a = {k: after[prefix + k] for k in b}
        forgotten, retained = goal_keys(goal)
        # a level the model never knew cannot be lost: left out of U, and said so
        if unknown := [k for k in retained if b[k] == 0]:
            out[prefix + "utility_skipped"] = unknown
        try:
            qs = [quality(b[k], a[k], k) for k in forgotten]
            q = sum(qs) / len(qs)
        except NothingToForget as err:
            q = None
            out[prefix + "nothing_to_forget"] = str(err)
            if not prefix:
                warnings.warn(str(err), stacklevel=2)
        u = utility(b, a, goal, True) if len(unknown) < len(retained) else None
        qu = None if q is None or u is None else harmonic(q, u)
        out.update({prefix + "Q": q, prefix + "U": u, prefix + "QU": qu})
    if "zero_shot" in before and "zero_shot" in after and before["zero_shot"] > 0:
        out["zero_shot_utility"] = min(1.0, after["zero_shot"] / before["zero_shot"])
    return out


def difficulty_levels(per_class: pd.DataFrame, min_accuracy: float = 0.3) -> dict[str, list[str]]:
    """Breeds the model knows (photo fine accuracy >= min_accuracy) in three equal levels by accuracy
    (paper Table 3)."""
    levels = ("easy", "medium", "difficult")
    df = per_class[(per_class["domain"] == "photo") & (per_class.fine >= min_accuracy)]
    ranked = df.sort_values(["fine", "concept"], kind="stable")["concept"].tolist()
    return {
        lvl: [str(c) for c in part]
        for lvl, part in zip(levels, np.array_split(np.array(ranked, dtype=object), len(levels)))
    }
