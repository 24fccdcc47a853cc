"""Embedding backends: for each, a full index build of a public eval corpus (ingestion throughput in
passages/s, end to end: reading, chunking, embedding, writing), query-encoding latency, vectors
against torch fp32 (cosine, top-10 overlap), and retrieval quality (dense and hybrid recall@5, MRR@10).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/embedding.py EVAL_DIR [--sets piaf-fr squad-en]
       [--backends torch onnx ...] [--json benchmarks/results/embedding.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from rag.config import EMBEDDING_BACKENDS, Config
from rag.evaluation import read_questions, retrieval_metrics
from rag.models.embed import Embedder
from rag.pipeline import RAG
from rag.records import Hit
from rag.search.hybrid import Mode
from rag.storage.index import Index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("eval_dir", type=Path)
    parser.add_argument("--sets", nargs="+", default=["piaf-fr", "squad-en"])
    parser.add_argument("--backends", nargs="+", default=[b for b in EMBEDDING_BACKENDS if b != "auto"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, dict[str, dict[str, float | str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            corpus = args.eval_dir / name / "corpus.jsonl"
            questions = read_questions(args.eval_dir / name / "questions.jsonl")
            reference: np.ndarray | None = None
            results[name] = {}
            for backend in args.backends:
                t = time.perf_counter()
                embedder = Embedder(backend=backend, cache_dir=Path(tmp) / "exports")  # export timed once
                load_s = time.perf_counter() - t
                rag = RAG(Path(tmp) / f"{name}-{backend}", config=Config(embedding_backend=backend), embedder=embedder)
                stats = rag.index([corpus])
                idx = rag.current()
                assert isinstance(idx, Index)  # a local index
                passages = [c.text for c in idx.chunks]
                vectors = idx.vectors
                if reference is None:
                    reference = vectors
                embedder.embed_queries([questions[0].question])  # warm-up
                latency = []
                for q in questions[:100]:
                    t = time.perf_counter()
                    embedder.embed_queries([q.question])
                    latency.append((time.perf_counter() - t) * 1000)
                row: dict[str, float | str] = {
                    "backend": stats.embedding_backend,
                    "passages": len(passages),
                    "ingest_passages_per_s": stats.passages_per_second,
                    "ingest_s": stats.seconds,
                    "load_s": load_s,
                    "query_ms_p50": statistics.median(latency),
                    "cosine_vs_first_min": float(np.min(np.sum(vectors * reference, axis=1))),
                    "cosine_vs_first_mean": float(np.mean(np.sum(vectors * reference, axis=1))),
                    "top10_overlap_vs_first": _overlap(reference, vectors, rag, questions[:200]),
                }
                for mode in ("dense", "hybrid"):
                    m = retrieval_metrics(questions, partial(_search, rag, mode))
                    row[f"{mode}_recall@5"] = m["recall@5"]
                    row[f"{mode}_mrr@10"] = m["mrr@10"]
                results[name][backend] = row
                print(name, json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def _search(rag: RAG, mode: Mode, question: str) -> list[Hit]:
    return rag.search(question, k=10, mode=mode)


def _overlap(reference: np.ndarray, vectors: np.ndarray, rag: RAG, questions: list) -> float:
    """Mean share of the exact top-10 passages (by this backend's query vectors) that the first
    backend's passage vectors also put in the top 10: how much the passage vectors moved."""
    q = rag.embedder.embed_queries([x.question for x in questions])
    a = np.argsort(-(q @ reference.T), axis=1)[:, :10]
    b = np.argsort(-(q @ vectors.T), axis=1)[:, :10]
    return float(np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b, strict=True)]))


if __name__ == "__main__":
    main()
