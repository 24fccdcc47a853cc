"""Print the Markdown tables of BENCHMARKS.md from benchmarks/results/*.json (made by eval_public.sh)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def _load(dataset: str, mode: str) -> dict[str, Any] | None:
    p = RESULTS / f"{dataset}-{mode}.json"
    return json.loads(p.read_text()) if p.exists() else None


def main() -> None:
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

    rerank_pool()
    quote_choice()


def rerank_pool() -> None:
    """What the reranker reorders and how much its score weighs (benchmarks/rerank_pool.py)."""
    _variants(
        "rerank-pool",
        "| set (questions) | pool, LM weight | recall@1 | recall@5 | recall@10 | MRR@10 | passages scored |",
        lambda s, key, m: (
            f"| {s} ({m['questions']}) | {key} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | "
            f"{m['recall@10']:.3f} | {m['mrr@10']:.3f} | {m['passages_scored']:.1f} |"
        ),
    )


def quote_choice() -> None:
    """The extractive answers' quote choice by rank weight (benchmarks/quote_choice.py)."""
    _variants(
        "quote-choice",
        "| set (questions) | variant | hit rate | token F1 | citation precision | citations / answer | answer chars |",
        lambda s, key, m: (
            f"| {s} ({m.get('questions', 'all')}) | {key} | {m['hit_rate']:.3f} | {m['token_f1']:.3f} | "
            f"{m['citation_precision']:.3f} | {m['citations_per_answer']:.2f} | {m['answer_chars']:.0f} |"
        ),
    )


def _variants(name: str, header: str, row: Callable[[str, str, dict[str, Any]], str]) -> None:
    """A table of the variants (the JSON's object-valued keys) a comparison script wrote per set."""
    results = [(s, _load(s, name)) for s in ("piaf-fr", "squad-en")]
    if not any(r for _, r in results):
        return
    print()
    print(header)
    print("|---" * header.count(" | ") + "|---|")
    for s, r in results:
        for key, m in (r or {}).items():
            if isinstance(m, dict):
                print(row(s, key, m))


if __name__ == "__main__":
    main()
