"""Questions in one language about articles in the other: each question of tests/data/crosslingual.jsonl
is asked as written (in its corpus's language) and as translated (English about French articles,
French about English ones), through each retriever and the extractive answerer.

The set: 22 questions written about the seed articles in French and English, and the bundled
subsets' questions (tests/data/piaf-fr: the first 40, translated to English; tests/data/squad-en:
all 50, translated to French). Gold answers are the corpus's strings, so both languages are scored
alike. `--piaf-corpus` / `--squad-corpus` ask the same questions of a larger corpus (the public
sets' whole corpora hold the same documents and many more). `--json` also keeps what the
"sources don't say" gate read for each question (`gate_values`), from which `gate_cross.py`
reproduces the choice of its cross-language weight.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/crosslingual.py [--piaf-corpus ../shared/eval/piaf-fr/corpus.jsonl]
           [--squad-corpus ../shared/eval/squad-en/corpus.jsonl] [--json benchmarks/results/crosslingual.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.answer.extractive import answer_question
from rag.config import Config
from rag.crosslingual import crosses_languages
from rag.evaluation import Question, answer_metrics, contains_answer, retrieval_metrics
from rag.models.embed import Embedder
from rag.pipeline import RAG
from rag.query import read_query
from rag.records import Hit
from rag.search.hybrid import Mode

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "tests/data/crosslingual.jsonl"
SHOWN = ("recall@1", "recall@5", "mrr@10", "hit_rate", "answered")
RETRIEVERS: dict[str, tuple[Mode, bool]] = {
    "dense": ("dense", True),
    "BM25": ("lexical", True),
    "hybrid": ("hybrid", False),
    "hybrid + rerank": ("hybrid", True),
}


def searcher(rag: RAG, mode: Mode) -> Callable[[str], list[Hit]]:
    return lambda question: rag.search(question, k=10, mode=mode)


def gate_values(rag: RAG, corpus: str, questions: list[Question]) -> list[dict[str, Any]]:
    """What the gate reads for each question (the reranked search is memoised, so asked once):
    the best sentence's own support, the top passage's `lm_gain`, whether they cross languages,
    the shipped gate's value and verdict, and whether an answer at any support would hold a gold
    answer (`hit_if_answered`) and its top passage does."""
    out = []
    for q in questions:
        hits, idx = rag.search(q.question), rag.current()
        shipped = rag.ask(q.question)
        query = read_query(q.question)
        opened = answer_question(query, hits, idx, rag.embedder, rag.config.with_(gate_lm_weight=0.0), threshold=0.0)
        out.append(
            {
                "qid": q.qid,
                "corpus": corpus,
                "cross": crosses_languages(query.lang, hits, idx.documents),
                "sentence_support": opened.support,
                "lm_gain": hits[0].rerank_gain if hits else None,
                "support": shipped.support,
                "answered": shipped.answered,
                "hit": shipped.answered and contains_answer(shipped.text, q.answers),
                "hit_if_answered": opened.answered and contains_answer(opened.text, q.answers),
                "top_has_answer": bool(hits) and contains_answer(hits[0].chunk.text, q.answers),
            }
        )
    return out


def read_set(path: Path) -> dict[str, tuple[list[Question], list[Question]]]:
    """By corpus: (the questions as written, the same questions translated)."""
    out: dict[str, tuple[list[Question], list[Question]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        o = json.loads(line)
        written, translated = out.setdefault(o["corpus"], ([], []))
        written.append(Question(o["qid"], o["question"], tuple(o["answers"]), o["doc_id"], o["lang"]))
        translated.append(Question(o["qid"], o["translation"], tuple(o["answers"]), o["doc_id"], o["translation_lang"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--piaf-corpus", type=Path, default=ROOT / "tests/data/piaf-fr/corpus.jsonl")
    parser.add_argument("--squad-corpus", type=Path, default=ROOT / "tests/data/squad-en/corpus.jsonl")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    corpora = {"seeds": ROOT / "sources", "piaf-fr": args.piaf_corpus, "squad-en": args.squad_corpus}
    embedder = Embedder()
    results: dict[str, Any] = {"corpora": {name: str(path) for name, path in corpora.items()}}
    per_question: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (written, translated) in read_set(SET).items():
            index_dir = Path(tmp) / name
            RAG(index_dir, embedder=embedder).index([corpora[name]])
            for retriever, (mode, rerank) in RETRIEVERS.items():
                rag = RAG(index_dir, config=Config(rerank=rerank), embedder=embedder)
                for label, questions in (("as written", written), ("translated", translated)):
                    row = retrieval_metrics(questions, searcher(rag, mode))
                    if retriever == "hybrid + rerank":
                        row |= answer_metrics(questions, rag.ask)
                        per_question.setdefault(label, []).extend(gate_values(rag, name, questions))
                    results[f"{name} | {label} | {retriever}"] = row
                    shown = {k: round(row[k], 3) for k in SHOWN if k in row}
                    print(f"{name:8} {label:10} {retriever:15}", shown, flush=True)
    results["per_question"] = per_question
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
