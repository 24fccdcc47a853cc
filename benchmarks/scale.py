"""Scale benchmark: build time, throughput, query latency p50/p95, recall@10 against exact search and
resident memory of each FAISS index type at 10k, 100k and 1M passages, plus real-text embedding
throughput on a sample.

Vectors at scale are synthetic: normalised 384-d points drawn around 2,000 random topic centres
(real embeddings are clustered; uniform noise would be unrealistically hard for HNSW/IVF), queries are
perturbed corpus points. Recall@10 is measured against exact (flat) search on the same data.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/scale.py [--sizes 10000 100000 1000000] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import psutil

from rag.storage.faiss_store import VectorStore

ROOT = Path(__file__).resolve().parent.parent
DIM = 384
QUERIES = 300


def synthetic(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        x = centres[rng.integers(0, len(centres), m)] + rng.normal(0, 0.35, (m, DIM)).astype(np.float32) / np.sqrt(DIM)
        out[s : s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def bench_index(
    vectors: np.ndarray, queries: np.ndarray, kind: str, exact: list[set[int]] | None
) -> tuple[dict[str, float], list[set[int]]]:
    before = rss_mb()
    t = time.perf_counter()
    store = VectorStore.build(vectors, kind=kind)  # type: ignore[arg-type]
    build = time.perf_counter() - t
    after = rss_mb()
    lat, found = [], []
    for q in queries:
        t = time.perf_counter()
        hits = store.search(q, 10)
        lat.append((time.perf_counter() - t) * 1000)
        found.append({i for i, _ in hits})
    lat.sort()
    result = {
        "build_s": round(build, 2),
        "build_passages_per_s": round(len(vectors) / build),
        "query_ms_p50": round(statistics.median(lat), 3),
        "query_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 3),
        "index_rss_mb": round(after - before, 1),
    }
    if exact is not None:
        result["recall@10_vs_exact"] = round(
            float(np.mean([len(f & e) / 10 for f, e in zip(found, exact, strict=True)])), 4
        )
    del store
    return result, found


def embedding_throughput(sample: int) -> dict:
    from rag.ingest.sources import load_sources
    from rag.models.embed import Embedder
    from rag.text.chunking import chunk_document

    docs, _ = load_sources([ROOT / "tests/data/piaf-fr/corpus.jsonl"])
    embedder = Embedder()
    settings = {"chunk_chars": 650, "overlap_sentences": 1, "max_tokens": embedder.max_passage_tokens()}
    texts = [c.text for d in docs for c in chunk_document(d, **settings, count_tokens=embedder.count_tokens)]
    texts = texts[:sample]
    embedder.embed_passages(texts[:16])  # warm-up
    t = time.perf_counter()
    embedder.embed_passages(texts)
    seconds = time.perf_counter() - t
    t = time.perf_counter()
    for text in texts[:50]:
        embedder.embed_queries([text[:80]])
    return {
        "backend": "torch fp32 (sentence-transformers)",
        "passages": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts)),
        "passages_per_s": round(len(texts) / seconds, 1),
        "query_ms": round((time.perf_counter() - t) / 50 * 1000, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--kinds", nargs="+", default=["flat", "hnsw", "ivf"])
    p.add_argument("--embed-sample", type=int, default=512)
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/scale.json")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2000, DIM)).astype(np.float32)
    results: dict = {"machine": {"cores": psutil.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 1e9)}}
    results["embedding"] = embedding_throughput(args.embed_sample)
    print(results["embedding"], flush=True)
    for n in args.sizes:
        vectors = synthetic(n, rng, centres)
        picks = rng.integers(0, n, QUERIES)
        noise = rng.normal(0, 0.2, (QUERIES, DIM)).astype(np.float32) / np.sqrt(DIM)
        queries = vectors[picks] + noise
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        exact = None
        for kind in args.kinds:
            r, found = bench_index(vectors, queries, kind, exact)
            if kind == "flat":
                exact = found
            results.setdefault(str(n), {})[kind] = r
            print(n, kind, r, flush=True)
        del vectors
    results["peak_rss_mb"] = round(psutil.Process().memory_info().rss / 1e6)
    args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
