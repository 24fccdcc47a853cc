"""The two plots of BENCHMARKS.md, from benchmarks/results/*.json: recall@k per retriever on both public
sets (eval_public.sh), and query latency against corpus size per FAISS index type (scale.py).

Usage: .venv/bin/python benchmarks/plots.py  (writes benchmarks/plots/*.png)
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE / "results"
OUT = HERE / "plots"
KS = (1, 3, 5, 10)


def recall_curves() -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, dataset in zip(axes, ("piaf-fr", "squad-en"), strict=True):
        for mode, label in (("dense", "dense (MiniLM)"), ("lexical", "BM25"), ("hybrid", "hybrid")):
            path = RESULTS / f"{dataset}-{mode}.json"
            if path.exists():
                r = json.loads(path.read_text())
                ax.plot(
                    KS, [r[f"recall@{k}"] for k in KS], marker="o", label=f"{label} ({r['top5_chars']:.0f} ch/top 5)"
                )
        ax.set_title(f"{dataset}: answer recall@k")
        ax.set_xlabel("k (passages)")
        ax.set_xticks(KS)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("share of questions with a gold answer in the top k")
    fig.tight_layout()
    fig.savefig(OUT / "recall_at_k.png", dpi=110)


def latency_vs_size() -> None:
    r = json.loads((RESULTS / "scale.json").read_text())
    sizes = sorted(int(n) for n in r if n.isdigit())
    fig, ax = plt.subplots(figsize=(6, 4))
    for kind in ("flat", "hnsw", "ivf"):
        points = [(n, r[str(n)][kind]) for n in sizes if kind in r[str(n)]]
        xs = [n for n, _ in points]
        (line,) = ax.plot(xs, [p["query_ms_p50"] for _, p in points], marker="o", label=f"{kind} p50")
        p95 = [p["query_ms_p95"] for _, p in points]
        ax.plot(xs, p95, ls="--", alpha=0.5, color=line.get_color(), label=f"{kind} p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("passages in the index")
    ax.set_ylabel("query latency, ms (k=10, one query)")
    ax.set_title("FAISS query latency vs corpus size (2 cores)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "latency_vs_size.png", dpi=110)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    recall_curves()
    if (RESULTS / "scale.json").exists():
        latency_vs_size()
