"""The tables and plots of BENCHMARKS.md's "Retrieval" and "Answers" sections, from the JSON that
`eval_public.sh` and `scale.py` write to benchmarks/results/: prints the Markdown tables and writes
benchmarks/plots/*.png.

Usage: .venv/bin/python benchmarks/report.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
RESULTS = HERE / "results"
OUT = HERE / "plots"
KS = (1, 3, 5, 10)


def _load(dataset: str, mode: str) -> dict[str, Any] | None:
    p = RESULTS / f"{dataset}-{mode}.json"
    return json.loads(p.read_text()) if p.exists() else None


def tables() -> None:
    """The retrieval and answer tables of BENCHMARKS.md, from the harness's JSON."""
    print(
        "| set | retriever | recall@1 | recall@3 | recall@5 | recall@10 | MRR@10 | doc recall@5 "
        "| top-5 chars | p50 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in ("piaf-fr", "squad-en"):
        for mode, label in (
            ("dense", "dense"),
            ("lexical", "BM25"),
            ("hybrid-norerank", "hybrid"),
            ("hybrid", "hybrid + rerank"),
        ):
            r = _load(s, mode)
            if r is None:
                continue
            print(
                f"| {s} | {label} | {r['recall@1']:.3f} | {r['recall@3']:.3f} | "
                f"{r['recall@5']:.3f} | {r['recall@10']:.3f} | {r['mrr@10']:.3f} | {r['doc_recall@5']:.3f} | "
                f"{r['top5_chars']:.0f} | {r['retrieval_ms_p50']:.1f} |"
            )
    print()
    print(
        "| set | answerer | hit rate | token F1 | citation precision | answered | refused (other set's questions) "
        "| answer p50 ms | p95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for s in ("piaf-fr", "squad-en"):
        for mode, label in (("hybrid", "extractive"), ("local", "local"), ("openai", "openai")):
            r = _load(s, mode)
            if r is None or "hit_rate" not in r:
                continue
            # Results written before reranking existed carry no "rerank" field; hybrid.json is reranked.
            reranked = r.get("rerank", mode == "hybrid")
            name = f"{label} ({r['questions']} q{'' if reranked else ', no rerank'})"
            print(
                f"| {s} | {name} | {r['hit_rate']:.3f} | {r['token_f1']:.3f} | {r['citation_precision']:.3f} | "
                f"{r['answered']:.3f} | {r.get('refused', float('nan')):.3f} | {r['answer_ms_p50']:.0f} | "
                f"{r['answer_ms_p95']:.0f} |"
            )


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
    tables()
    OUT.mkdir(exist_ok=True)
    recall_curves()
    if (RESULTS / "scale.json").exists():
        latency_vs_size()
