"""A sweep's requests, resolved to (label, concepts forgotten, difficulty level or "") triples.

Explicit names and groups are compiled through the taxonomy (a group forgets all its breeds; unknown names
fail with suggestions, before any model is loaded). Difficulty levels come from the original model's
zero-shot accuracy (:func:`kt_lib.eval.evaluator.difficulty_levels`, the same draw as notebook 06's
:func:`kt_lib.notebook.leaderboard.level_requests`), and random requests draw concepts of the data with a seeded
generator, so both need the model and data: :func:`resolve_cached` computes them once per output folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kt_harness.sweep.config import ConfigError, SweepConfig
from kt_harness.sweep.spec import TrialSpec, content_key, data_spec, model_identity, shared_fields
from kt_harness.sweep.store import write_json


def compile_names(cfg: SweepConfig, names: list[str], where: str) -> list[str]:
    from kt_lib.knowledge.taxonomy import Taxonomy

    try:  # real photos: their taxonomy; the embedded world: its own
        real = cfg.data.get("root")
        tax = (
            Taxonomy.load(cfg.data.get("taxonomy", "imgnetdogs")) if real else Taxonomy.from_world()
        )
        return list(tax.request(names).forget)
    except (KeyError, ValueError) as err:
        msg = err.args[0] if err.args else err
        raise ConfigError(f"{where}: {msg}") from None


def needs_model(cfg: SweepConfig) -> bool:
    """Whether resolving the requests needs the model and data (difficulty levels, random requests)."""
    return any("forget" not in r for r in cfg.requests)


def check_requests(cfg: SweepConfig) -> None:
    """Compile the explicit requests now, so a misspelt concept fails before any heavy work."""
    for i, r in enumerate(cfg.requests):
        if "forget" in r:
            compile_names(cfg, r["forget"], f"requests[{i}]")


def resolve_requests(cfg: SweepConfig) -> list[tuple[str, list[str], str]]:
    """Every request as (label, forget, level), in config order; level is "" unless drawn from one."""
    from kt_lib.notebook.leaderboard import level_requests

    out, loaded = [], None
    for i, r in enumerate(cfg.requests):
        if "forget" in r:
            forget = compile_names(cfg, r["forget"], f"requests[{i}]")
            out.append((r.get("name") or " + ".join(r["forget"]), forget, ""))
            continue
        loaded = loaded or _model_and_levels(cfg)
        source, levels = loaded
        size = r.get("size", 3)
        draws = r.get("draw", 0)
        for d in map(int, draws if isinstance(draws, list) else [draws]):
            if "difficulty" in r:
                chosen = level_requests({lvl: levels[lvl] for lvl in r["difficulty"]}, size, d)
                out += [(f"{r.get('name') or lvl}-{d}", f, lvl) for lvl, f in chosen.items()]
            else:
                pool = _concepts_with_images(source)
                if size > len(pool):
                    raise ConfigError(
                        f"requests[{i}].size {size} exceeds the {len(pool)} concepts of the data"
                    )
                rng = np.random.default_rng(d)
                for j in range(r["random"]):
                    picked = sorted(rng.choice(len(pool), size, replace=False).tolist())
                    out.append(
                        (f"{r.get('name') or 'random'}-{d}-{j}", [pool[k] for k in picked], "")
                    )
    return out


def _concepts_with_images(source) -> list[str]:
    fine = source.proxy_pool.tensors[1]
    present = set(fine.unique().tolist())
    return [name for k, name in enumerate(source.fine_names) if k in present]


def _model_and_levels(cfg: SweepConfig):
    from kt_harness.sweep.trial import load, torch_threads
    from kt_lib.eval.evaluator import difficulty_levels

    probe = TrialSpec(**shared_fields(cfg), request="", forget=(), method="", seed=0)
    with torch_threads(probe.threads):
        model, tokenizer, source = load(probe)
        levels = difficulty_levels(source.evaluator.per_class(model, tokenizer))
    return source, levels


def resolve_cached(
    cfg: SweepConfig, out: Path, resolver=resolve_requests
) -> list[tuple[str, list[str]]]:
    """`resolver(cfg)`, or its earlier answer for the same model, data and requests from `out/requests.json`
    (difficulty levels cost one evaluation of the original model; a re-run should not pay it again)."""
    check_requests(cfg)
    if not needs_model(cfg):
        return resolve_requests(cfg)
    content = dict(
        format=2,  # (label, forget, level) triples
        model=cfg.model,
        model_id=model_identity(cfg.model, cfg.pretrained),
        data=data_spec(cfg),
        requests=cfg.requests,
    )
    digest = content_key(content)
    path = Path(out) / "requests.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("digest") == digest:
            return [(label, list(forget), level) for label, forget, level in saved["requests"]]
    requests = resolver(cfg)
    write_json(path, dict(digest=digest, requests=requests))
    return requests
