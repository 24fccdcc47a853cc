"""Follow-up questions: last-turn recall@5 and hit rate on tests/data/conversations.jsonl, asked alone,
with the conversation, and as the hand-written standalone rewrite (the ceiling).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/followups.py [--json benchmarks/results/followups.json]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

from rag.evaluation import contains_answer, followup_metrics, read_conversations, read_questions
from rag.models.embed import Embedder
from rag.pipeline import RAG
from rag.text.followup import is_follow_up

ROOT = Path(__file__).resolve().parent.parent
CORPORA = {
    "seeds": ROOT / "sources",
    "piaf-fr": ROOT / "tests/data/piaf-fr/corpus.jsonl",
    "squad-en": ROOT / "tests/data/squad-en/corpus.jsonl",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    conversations = read_conversations(ROOT / "tests/data/conversations.jsonl")
    embedder = Embedder()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in CORPORA.items():
            rag = RAG(Path(tmp) / name, embedder=embedder)
            rag.index([path])
            subset = [c for c in conversations if c.corpus == name]
            results[name] = followup_metrics(subset, rag.ask)
    results["all"] = {
        key: sum(r[key] * r["conversations"] for r in results.values()) / len(conversations)
        for key in next(iter(results.values()))
        if key != "conversations"
    } | {"conversations": len(conversations)}
    # The cost of a false alarm: standalone questions asked after an unrelated one from the same set.
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("piaf-fr", "squad-en"):
            rag = RAG(Path(tmp) / name, embedder=embedder)
            rag.index([CORPORA[name]])
            questions = read_questions(CORPORA[name].with_name("questions.jsonl"))
            earlier = random.Random(0).sample(questions, len(questions))
            r = {"followup_detected": 0.0, "alone_recall@5": 0.0, "after_unrelated_recall@5": 0.0}
            for q, prev in zip(questions, earlier, strict=True):
                history = [{"role": "user", "content": prev.question}, {"role": "assistant", "content": ""}]
                r["followup_detected"] += is_follow_up(q.question) / len(questions)
                for key, hist in (("alone_recall@5", None), ("after_unrelated_recall@5", history)):
                    hits = rag.search(q.question, history=hist)
                    r[key] += contains_answer(" ".join(h.chunk.text for h in hits), q.answers) / len(questions)
            results[f"{name}-standalone"] = r
    for name, r in results.items():
        print(name, {k: round(v, 3) for k, v in r.items()})
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
