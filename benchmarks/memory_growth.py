"""Where does the process's memory go, question after question? Asks every question of the given
files (duplicates dropped) of one index with the default pipeline (`RAG.ask`: reranking, extractive
answers) and every `--every` questions records the resident memory, glibc's heap (`mallinfo2`: bytes
in use, bytes freed but kept, the arenas' size), the Python heap traced by `tracemalloc` (from
`--trace-from`; at the end, where it was allocated), the number of Python objects, and the
reranker's kept passages and memo.

Live heap that keeps growing would be a leak; freed-but-kept heap is fragmentation, which the
reranker's `malloc_trim` hands back to the system (resident memory does not follow it); growth that
stops is caches filling up to their caps.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/memory_growth.py --index /tmp/squad-idx \\
    --corpus ../shared/eval/squad-en/corpus.jsonl \\
    --questions ../shared/eval/squad-en/questions.jsonl ../shared/eval/piaf-fr/questions.jsonl \\
    [--every 50] [--limit N] [--trace-from 300] --json benchmarks/results/squad-en-memory-growth.json
(builds the index in --index first if it is missing; glibc only.)
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--questions", type=Path, nargs="+", required=True)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument(
        "--trace-from", type=int, default=0, help="start tracemalloc after this many questions (0: never)"
    )
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args()
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2

    import psutil

    from rag import index as index_io
    from rag.evaluation import read_questions
    from rag.pipeline import RAG

    rag = RAG(args.index)
    if not index_io.exists(rag.index_dir):
        rag.index([args.corpus])
    asked = [q.question for path in args.questions for q in read_questions(path)]
    questions = list(dict.fromkeys(asked))[: args.limit or None]
    rows: list[dict[str, object]] = []
    growth: list[dict[str, object]] = []
    first = None
    start = time.perf_counter()
    for n, question in enumerate(questions, 1):
        if n == args.trace_from:
            tracemalloc.start(8)
            first = tracemalloc.take_snapshot()
        rag.ask(question)
        if n % args.every and n != len(questions):
            continue
        heap, reranker = libc.mallinfo2(), rag.reranker
        traced = tracemalloc.get_traced_memory()[0] / 2**20 if tracemalloc.is_tracing() else None
        rows.append(
            {
                "questions": n,
                "seconds": round(time.perf_counter() - start, 1),
                "resident_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
                "heap_in_use_mb": round(heap.uordblks / 2**20, 1),
                "heap_freed_kept_mb": round(heap.fordblks / 2**20, 1),
                "heap_arenas_mb": round(heap.arena / 2**20, 1),
                "mmapped_mb": round(heap.hblkhd / 2**20, 1),
                "python_traced_mb": None if traced is None else round(traced, 2),
                "python_objects": len(gc.get_objects()),
                "kept_passages": len(reranker._prefixes),
                "kept_passages_mb": round(reranker._prefix_bytes / 2**20, 1),
                "rerank_memo": len(rag._rerank_memo),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        if first is not None and n == len(questions):  # what Python allocated since --trace-from, by where
            for stat in tracemalloc.take_snapshot().compare_to(first, "traceback")[:10]:
                where = [f"{frame.filename}:{frame.lineno}" for frame in stat.traceback]
                growth.append({"kb": round(stat.size_diff / 1024, 1), "blocks": stat.count_diff, "where": where})
                print(json.dumps(growth[-1]), flush=True)
        out = {"corpus": str(args.corpus), "rows": rows, "python_growth_since_trace_from": growth}
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
