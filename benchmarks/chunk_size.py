"""Retrieval of the default pipeline (hybrid + rerank) with chunks of another target size: recall@k,
MRR@10 and characters in the top 5, on all the questions, the tuning third and the other two thirds.
The index is built into the eval harness's cache under its own settings (the chunk size is one).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/chunk_size.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl --chunk-chars 850 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import K, add_eval_set_options, open_eval_set, record_retrieval  # benchmarks/, the script's own folder

from rag.config import Config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=1)
    parser.add_argument("--chunk-chars", type=int, required=True)
    args = parser.parse_args()
    rag, questions = open_eval_set(args, Config().with_(chunk_chars=args.chunk_chars))
    ranked = {q.question: rag.search(q.question, k=K) for q in questions}
    results: dict[str, object] = {"corpus": str(args.corpus), "chunk_chars": args.chunk_chars}
    record_retrieval(results, f"chunks of {args.chunk_chars} characters", questions, ranked, args.every)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
