"""The questions whose answer none of the first `--depth` passages holds, for reading by eye: what
first-stage retrieval misses, and whether a better retriever could find it at all (a question that
names nothing of its subject, "Qui a gagné ?", cannot be told apart from the question alone).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/misses.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--mode lexical] [--depth 15]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import add_eval_set_options, open_eval_set  # benchmarks/, the script's own folder

from rag.evaluation import contains_answer
from rag.retrieve import search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=1)
    parser.add_argument("--mode", choices=["lexical", "dense", "hybrid"], default="lexical")
    parser.add_argument("--depth", type=int, default=15)
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    idx = rag.current()
    deep = max(30, args.depth)  # how far to look for the first passage that holds the answer
    missed = 0
    for q in questions:
        hits = search(idx, rag.embedder, q.question, k=deep, config=rag.config, mode=args.mode)
        if any(contains_answer(h.chunk.text, q.answers) for h in hits[: args.depth]):
            continue
        missed += 1
        rank = next((i for i, h in enumerate(hits, 1) if contains_answer(h.chunk.text, q.answers)), None)
        print(f"{q.question!r} -> {q.answers[0]!r} (first held at rank {rank or f'> {deep}'})")
    share = missed / max(1, len(questions))
    print(f"{missed} of {len(questions)} questions ({share:.3f}): no answer in the top {args.depth}")


if __name__ == "__main__":
    main()
