"""The leaderboard of a sweep, beside the paper's numbers: `leaderboard.md` and `leaderboard.png`.

Written from `results.csv`'s rows by the same code for every backend: mean and 95% t-interval per method
over all of its finished trials (requests x grid points x seeds), `kt_lib.notebook.leaderboard.aggregate`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMNS = {
    "Q": "Q",
    "U": "U",
    "QU": "Q-U",
    "drawing_QU": "OOD Q-U",
    "zero_shot_utility": "zero-shot util",
}


def leaderboard(df: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean and CI half-width of each metric over its finished trials, plus trial counts."""
    from kt_lib.notebook.leaderboard import aggregate

    ok = df[df.status == "ok"]
    metrics = [m for m in COLUMNS if m in ok and ok[m].notna().any()]
    if ok.empty:
        return pd.DataFrame(columns=["method", *metrics, "n", "failed"])
    board = aggregate(ok, "method", metrics=metrics).sort_values("QU", ascending=False)
    failed = df[df.status == "failed"].groupby("method").size()
    board["failed"] = [int(failed.get(m, 0)) for m in board.method]
    return board.reset_index(drop=True)


def markdown(board: pd.DataFrame, paper: dict | None = None, title: str = "") -> str:
    """A Markdown table: mean ± 95% CI (percent) per metric and method, and the paper's Q-U beside it."""
    from kt_lib.notebook.leaderboard import format_ci, paper_qu

    paper = paper_qu() if paper is None else paper  # Tan & Gong 2025, Table 2, percent
    metrics = [m for m in COLUMNS if m in board]
    head = ["method", *(COLUMNS[m] for m in metrics), "trials", "failed", "paper Q-U"]
    lines = [f"## {title}\n" if title else "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "---|" * len(head))
    for _, r in board.iterrows():
        cells = [r.method, *(format_ci(r[m], r[f"{m}_ci"]) for m in metrics), str(int(r.n))]
        cells += [str(int(r.failed)), f"{paper[r.method]:.2f}" if r.method in paper else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "\nMean ± 95% t-interval over each method's finished trials (requests × grid × seeds), percent. "
        "The paper's column is Tan & Gong's Table 2 (ViT-L/14 on ImgnetDogs) unless the config's `paper` "
        "block says otherwise: compare rankings, not values, on another model or data."
    )
    return "\n".join(line for line in lines if line != "") + "\n"


def write_report(
    folder: str | Path, df: pd.DataFrame, paper: dict | None = None, title: str = ""
) -> dict:
    """Write leaderboard.md (and leaderboard.png when any trial finished); returns their paths."""
    import matplotlib.pyplot as plt

    from kt_lib.notebook.leaderboard import paper_qu
    from kt_lib.notebook.plots import plot_leaderboard

    folder = Path(folder)
    board = leaderboard(df)
    paths = {"markdown": folder / "leaderboard.md"}
    paths["markdown"].write_text(markdown(board, paper, title))
    if not board.empty:
        paper = paper_qu() if paper is None else paper
        fig = plot_leaderboard(
            board,
            "QU",
            paper=paper,
            paper_label="paper (Table 2, ViT-L/14 ImgnetDogs)",
            title=f"Q-U per method: {title or 'sweep'} (mean ± 95% CI)",
        )
        paths["figure"] = folder / "leaderboard.png"
        fig.savefig(paths["figure"], dpi=120)
        plt.close(fig)
    return paths
