"""What the local (FAISS flat) index costs a serving process as it grows: start-up time, resident
memory and hybrid search latency after start-up, and the time and memory of adding one article with
`rag index`, at 10k, 100k and 1M passages.

The corpus is the articles of `sources/` and the public sets' passages in `tests/data`, indexed once
for real (chunker, MiniLM vectors, stems), then copied until it holds N passages: copy c of document
d is `c/d`, with the same text, chunks, vectors and terms. Sizes are real; the copies only make
retrieval quality meaningless, which this benchmark does not measure. Each measurement runs in a
fresh process, as a user's would: start-up is `RAG(index)` plus a first hybrid search (the
embedding model loaded; reranking off, as its cost does not grow with the index); "add one
article" is `python -m rag index ARTICLE --index DIR` with a seed article under a new name, timed
and sampled for its peak RSS from outside.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/local_growth.py [--sizes 10000 100000 1000000]
       [--work /tmp/rag-growth] [--repeat 3] [--json benchmarks/results/local_growth.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from rag.config import Config
from rag.pipeline import RAG
from rag.records import Chunk, Document
from rag.storage import index as index_io
from rag.storage.faiss_store import VectorStore
from rag.storage.lexical import LexicalIndex, passage_terms
from rag.text.chunking import retrieval_text

ROOT = Path(__file__).resolve().parent.parent
BASE = [ROOT / "tests" / "data" / "piaf-fr" / "corpus.jsonl", ROOT / "tests" / "data" / "squad-en" / "corpus.jsonl"]
ARTICLES = sorted((ROOT / "sources").glob("*.md"))
QUERIES = ["Qui a fondé l'École de Paris ?", "talents en intelligence artificielle", "Quand a eu lieu la bataille ?"]

# A serving process: python -c START FOLDER QUERY QUERIES-JSON [MILVUS-URI NAME] (the index in Milvus
# given a URI, else in FOLDER).
START = """
import json, sys, time
t0 = time.perf_counter()
from rag.config import Config
from rag.pipeline import RAG, index_config
folder, uri = sys.argv[1], sys.argv[4] if len(sys.argv) > 4 else ""
config = Config(milvus_uri=uri, milvus_collection=sys.argv[5]) if uri else index_config(folder)
rag = RAG(folder, config=config.with_(rerank=False))
idx = rag.current()
t1 = time.perf_counter()
rag.search(sys.argv[2], k=10)
t2 = time.perf_counter()
latencies = []
for q in json.loads(sys.argv[3]) * 5:
    s = time.perf_counter()
    rag.search(q, k=10)
    latencies.append(time.perf_counter() - s)
import psutil
p50 = sorted(latencies)[len(latencies) // 2] * 1000
rss = psutil.Process().memory_info().rss / 1e6
print(json.dumps({"load_s": t1 - t0, "first_search_s": t2 - t1, "search_ms": p50, "rss_mb": rss,
                  "passages": idx.size}))
"""


def base_index(work: Path) -> index_io.Index:
    """The base corpus indexed once with the real pipeline."""
    folder = work / "base"
    if not index_io.exists(folder):
        RAG(folder, config=Config(rerank=False)).index([*BASE, ROOT / "sources"])
    return index_io.load(folder)


def grown(base: index_io.Index, n: int, config: Config) -> index_io.Index:
    """`base` copied until it holds `n` passages (whole documents; the last copy cut short)."""
    rows_of = base.rows_by_document()
    base_terms = [
        passage_terms(retrieval_text(c.title, c.text, config.title_in_chunks), base.documents[c.doc_id].lang)
        for c in base.chunks
    ]
    documents: dict[str, Document] = {}
    chunks: list[Chunk] = []
    rows: list[int] = []
    hashes: dict[str, str] = {}
    indexed: dict[str, str] = {}
    copy = 0
    while len(chunks) < n:
        for doc_id, doc_rows in rows_of.items():
            if len(chunks) + len(doc_rows) > n:
                continue
            doc = base.documents[doc_id]
            new_id = f"{copy}/{doc_id}"
            documents[new_id] = replace(doc, doc_id=new_id)
            hashes[new_id] = base.manifest.documents[doc_id]
            indexed[new_id] = base.manifest.created
            for r in doc_rows:
                c = base.chunks[r]
                chunks.append(
                    Chunk(f"{new_id}#{c.chunk_id.rsplit('#', 1)[-1]}", new_id, c.title, c.text, c.start, c.end)
                )
                rows.append(r)
        copy += 1
        if copy > n:  # no document fits the remainder
            break
    vectors = base.vectors[np.array(rows)]
    lexical = LexicalIndex.build([base_terms[r] for r in rows])  # as `rag index` would have built it
    manifest = type(base.manifest)(
        **{**base.manifest.__dict__, "documents": hashes, "chunks": len(chunks), "indexed": indexed, "files": {}}
    )
    store = VectorStore.build(vectors, kind="flat")
    return index_io.Index(manifest, documents, chunks, vectors, store, lexical, terms=[base_terms[r] for r in rows])


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB sampled every 50 ms, stdout) of a command."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    peak = [0.0]

    def sample() -> None:
        p = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak[0] = max(peak[0], p.memory_info().rss / 1e6)
            except psutil.Error:
                break
            time.sleep(0.05)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    watcher.join()
    if proc.returncode:
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {err[-2000:]}")
    return wall, peak[0], out


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def measure(root: Path, repeat: int, env: dict[str, str]) -> dict[str, object]:
    starts = []
    for _ in range(repeat):
        wall, _, out = peak_rss([sys.executable, "-c", START, str(root), QUERIES[0], json.dumps(QUERIES)], env)
        starts.append({**json.loads(out), "wall_s": wall})
    adds = []
    for i in range(repeat):
        article = root.parent / f"added-{root.name}-{i}.md"
        shutil.copyfile(ARTICLES[i % len(ARTICLES)], article)
        cmd = [sys.executable, "-m", "rag", "index", str(article), "--index", str(root), "--json"]
        wall, peak, out = peak_rss(cmd, env)
        stats = json.loads(out)
        adds.append(
            {"wall_s": wall, "peak_rss_mb": peak, "added": stats["added"], "embedded": stats["embedded_chunks"]}
        )
    version = index_io.current_version(root)
    return {
        **medians(starts, adds),
        "added_embedded_chunks": [a["embedded"] for a in adds],
        "index_on_disk_mb": folder_mb(root / version) if version else 0.0,
    }


def medians(starts: list[dict[str, Any]], adds: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of the start-ups (`START`'s output and wall time) and of the added articles."""
    return {
        "passages": starts[0]["passages"],
        "startup_s": statistics.median(s["wall_s"] for s in starts),
        "index_load_s": statistics.median(s["load_s"] for s in starts),
        "serving_rss_mb": statistics.median(s["rss_mb"] for s in starts),
        "search_p50_ms": statistics.median(s["search_ms"] for s in starts),
        "add_one_article_s": statistics.median(a["wall_s"] for a in adds),
        "add_one_article_peak_rss_mb": statistics.median(a["peak_rss_mb"] for a in adds),
        "runs": {"startups": len(starts), "adds": len(adds)},
    }


def options(doc: str | None, work: str, results: str) -> argparse.Namespace:
    """The command line both growth benchmarks take."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=Path(work))
    parser.add_argument("--repeat", type=int, default=3, help="start-ups and added articles per size (median)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / results)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    return args


def main() -> None:
    args = options(__doc__, "/tmp/rag-growth", "local_growth.json")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    base = base_index(args.work)
    config = Config()
    results = []
    for n in args.sizes:
        root = args.work / f"n{n}"
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        index_io.save(root, grown(base, n, config))
        built = time.perf_counter() - t
        row = {"size": n, "build_s": built, **measure(root, args.repeat, env)}
        print(json.dumps(row), flush=True)
        results.append(row)
        shutil.rmtree(root, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"base_passages": len(base.chunks), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
