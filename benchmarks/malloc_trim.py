"""What the reranker's `malloc_trim` after an eviction costs and saves: runs `python -m rag ARGS`
with the call timed, or skipped with `--no-trim`, and prints how often it ran and for how long.

The run's own JSON (`--json` among ARGS) holds the peak resident memory and the retrieval latencies
to compare; oneDNN's kernel cache is set the usual way, `ONEDNN_PRIMITIVE_CACHE_CAPACITY=N`.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/malloc_trim.py [--no-trim] -- eval --corpus ... --json OUT
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-trim", action="store_true", help="skip malloc_trim (the call is still counted)")
    parser.add_argument("rag_args", nargs=argparse.REMAINDER, help="arguments of python -m rag, after --")
    args = parser.parse_args()
    rag_args = args.rag_args[1:] if args.rag_args[:1] == ["--"] else args.rag_args

    import rag.rerank
    from rag.cli import main as rag_main

    trim = rag.rerank._return_freed_memory
    calls, seconds = 0, 0.0

    def timed() -> None:
        nonlocal calls, seconds
        calls += 1
        if not args.no_trim:
            start = time.perf_counter()
            trim()
            seconds += time.perf_counter() - start

    rag.rerank._return_freed_memory = timed
    code = rag_main(rag_args)
    state = "skipped" if args.no_trim else f"{seconds:.2f} s in all, {1000 * seconds / max(calls, 1):.1f} ms each"
    print(f"malloc_trim: {calls} calls, {state}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
