"""Figures (matplotlib; every function returns the Figure and never calls plt.show())."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .data import load_pool
from .world import BREEDS, DOMAINS, WorldConfig, WorldTaxonomy


def draw_samples(breeds: list[str] | None = None, per_breed: int = 4, domains=DOMAINS, pool: str = "test",
                 world: WorldConfig | None = None, columns: int = 8):
    """A labelled grid: for each breed, `per_breed` images of each domain (default: one breed per group)."""
    world = world or WorldConfig()
    tax = WorldTaxonomy()
    breeds = breeds or [tax.children(g)[0] for g in tax.coarse]
    for b in breeds:
        tax.fine_index(b)  # unknown names raise with suggestions
    arrays = load_pool(world, pool)
    tiles, titles = [], []
    for b in breeds:
        for dom in domains:
            idx = np.flatnonzero((arrays["fine"] == tax.fine_index(b)) & (arrays["domain"] == DOMAINS.index(dom)))
            for i in idx[:per_breed]:
                tiles.append(arrays["images"][i])
                titles.append(f"{b}\n({BREEDS[b][0]}, {dom})")
    rows = int(np.ceil(len(tiles) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, tile, title in zip(axes.flat, tiles, titles):
        ax.imshow(tile, interpolation="nearest")
        ax.set_title(title, fontsize=6)
    fig.tight_layout()
    return fig
