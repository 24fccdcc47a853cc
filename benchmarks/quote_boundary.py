"""Quoting across a chunk boundary: the answer's words are often in the sentence just before or
after the one that matches the question best, and when that sentence is the first or last of its
passage, its neighbour lies in the next passage of the document, which the shipped rule (the second
sentence comes from the best one's passage) never quotes.

Variants, on the passages `quote_choice.py --hits-cache FILE` kept (run it first, with the same
corpus and questions):
- `shipped`: the best sentence, and the best other sentence of its passage when its support reaches
  `SECOND_SENTENCE_SUPPORT`;
- `across F`: the same, but the candidates for the second sentence also include the document's
  sentences just before and after the best one when they lie outside its passage (quoted from the
  passage that holds them, retrieved or not), needing support F; every candidate is scored with the
  best sentence's passage rank;
- `retrieved only F`: `across F` with only the neighbours that a retrieved passage holds;
- `one passage F`: `across F`, and when the second sentence comes from another passage that
  also holds the best sentence (chunks overlap by a sentence), both are cited from that passage.

A quote holds a gold answer when one of the sentences chosen does; a citation is precise when its
passage holds a gold answer, or its quote when its passage was not retrieved (as the harness counts,
`evaluation.AnswerTally`). The gate answers the same questions for every variant.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/quote_boundary.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl --hits-cache hits.pkl [--json out.json]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import kept_hits_from_command_line, record, splits  # benchmarks/

from rag.answer import (
    SECOND_SENTENCE_SUPPORT,
    Evidence,
    question_gate,
    quote_score,
    select_evidence,
    support,
)
from rag.chunking import split_sentences
from rag.embed import Embedder
from rag.evaluation import contains_answer
from rag.index import Index
from rag.lang import detect_lang
from rag.records import Chunk, Hit, Lang

FLOORS = (SECOND_SENTENCE_SUPPORT, 0.15, 0.0)
KINDS = ("across", "one passage", "retrieved only")
VARIANTS = [("shipped", SECOND_SENTENCE_SUPPORT)] + [(kind, f) for kind in KINDS for f in FLOORS]


def neighbours(
    best: Evidence, question: str, hits: list[Hit], idx: Index, embedder: Embedder, lang: Lang, by_id: dict[str, Chunk]
) -> list[Evidence]:
    """The document's sentences just before and after `best` that lie outside its passage, scored
    as evidence of the passage (retrieved or not) that holds them."""
    chunk = best.hit.chunk
    doc = idx.documents[chunk.doc_id]
    spans = split_sentences(doc.text)
    at = next((i for i, (s, _) in enumerate(spans) if s == best.start), None)
    if at is None:
        return []
    out = []
    for i in (at - 1, at + 1):
        if not 0 <= i < len(spans) or chunk.start <= spans[i][0] < chunk.end:
            continue
        s, e = spans[i]
        holder = next((h for h in hits if h.chunk.doc_id == chunk.doc_id and h.chunk.start <= s < h.chunk.end), None)
        if holder is None:
            n = int(chunk.chunk_id.rsplit("#", 1)[1])
            for cid in (f"{chunk.doc_id}#{n - 1}", f"{chunk.doc_id}#{n + 1}"):
                c = by_id.get(cid)
                if c is not None and c.start <= s < c.end:
                    holder = Hit(chunk=c, score=best.hit.score, rank=best.hit.rank)
        if holder is None:
            continue
        scored = select_evidence(question, [holder], idx, embedder, lang)
        out += [dataclasses.replace(ev, hit=holder) for ev in scored if ev.start == s]
    return out


def chosen(
    evidence: list[Evidence], extra: list[Evidence], kind: str, floor: float, retrieved: set[str]
) -> list[tuple[Evidence, str]]:
    """(sentence, cited passage id) quoted under one variant."""
    order = sorted(evidence, key=lambda ev: -quote_score(ev))
    best = order[0]
    same = [(quote_score(ev), ev) for ev in order[1:] if ev.hit.chunk.chunk_id == best.hit.chunk.chunk_id]
    same = [(sc, ev) for sc, ev in same if support(ev) >= SECOND_SENTENCE_SUPPORT]
    if kind != "shipped":
        # Scored with the best sentence's passage rank: it continues that passage.
        same += [
            (quote_score(dataclasses.replace(ev, hit=best.hit)), ev)
            for ev in extra
            if support(ev) >= floor and (kind != "retrieved only" or ev.hit.chunk.chunk_id in retrieved)
        ]
    same.sort(key=lambda pair: -pair[0])
    picked = [(best, best.hit.chunk.chunk_id)]
    if same:
        second = same[0][1]
        picked.append((second, second.hit.chunk.chunk_id))
        c = second.hit.chunk
        if kind == "one passage" and c.doc_id == best.hit.chunk.doc_id and c.start <= best.start and best.end <= c.end:
            picked[0] = (best, c.chunk_id)
    return picked


def main() -> None:
    args, rag, questions, cache = kept_hits_from_command_line(__doc__.split("\n\n")[0])
    idx = rag.current()
    by_id = {c.chunk_id: c for c in idx.chunks}
    rows = []  # per question: {variant: (holds a gold answer, [citation precise?])}
    crossed = 0
    missed = dict.fromkeys(
        ("questions", "best sentence's passage holds it", "a neighbour across the boundary holds it"), 0
    )
    for q in questions:
        hits = cache[q.question]
        lang = detect_lang(q.question)
        evidence = select_evidence(q.question, hits, idx, rag.embedder, lang)
        answered = bool(evidence) and question_gate(support(evidence[0]), hits, idx, lang) >= rag.config.min_support
        extra = []
        if answered:
            best = max(evidence, key=quote_score)
            extra = neighbours(best, q.question, hits, idx, rag.embedder, lang, by_id)
        passages = {h.chunk.chunk_id: h.chunk.text for h in hits}
        out = {}
        for kind, f in VARIANTS:
            picked = chosen(evidence, extra, kind, f, set(passages)) if answered else []
            out[kind, f] = (
                any(contains_answer(ev.text, q.answers) for ev, _ in picked),
                [contains_answer(passages.get(cid, ev.text), q.answers) for ev, cid in picked],
            )
        crossed += out["across", 0.0] != out["shipped", SECOND_SENTENCE_SUPPORT]
        if answered and not out["shipped", SECOND_SENTENCE_SUPPORT][0]:  # where the shipped quote misses
            missed["questions"] += 1
            missed["best sentence's passage holds it"] += contains_answer(best.hit.chunk.text, q.answers)
            missed["a neighbour across the boundary holds it"] += any(
                contains_answer(ev.text, q.answers) for ev in extra
            )
        rows.append(out)
    results: dict[str, object] = {
        "corpus": str(args.corpus),
        "questions": len(questions),
        "changed": crossed,
        "shipped quote misses": missed,
    }
    for kind, f in VARIANTS:
        for split, positions in splits(len(questions), args.every).items():
            cited = [ok for i in positions for ok in rows[i][kind, f][1]]
            metrics = {
                "hit_rate": sum(rows[i][kind, f][0] for i in positions) / len(positions),
                "citation_precision": sum(cited) / max(1, len(cited)),
                "citations_per_answer": len(cited) / max(1, sum(bool(rows[i][kind, f][1]) for i in positions)),
            }
            record(results, f"{kind} {f}{split}", metrics)
    print(json.dumps(results, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
