"""The evaluation harness: retrieval and answer metrics on a labelled question set, with latency.

A gold answer "occurs" in a text when it does after lower-casing, folding whitespace and
normalising apostrophes. Never changes an index it did not build.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from .config import Config
from .records import Answer, Hit
from .storage.index import Index
from .text.terms import normalize_apostrophes

_WS = re.compile(r"\s+")
# Where the harness keeps the indexes it builds of eval corpora (the CLI's --cache default).
EVAL_CACHE = Path.home() / ".cache" / "rag-eval"


@dataclass(frozen=True)
class Question:
    qid: str
    question: str
    answers: tuple[str, ...]
    doc_id: str = ""
    lang: str = ""


def read_questions(path: str | Path) -> list[Question]:
    """Questions from a JSONL file of `{"qid", "question", "answers", "doc_id", "lang"}` objects."""
    out = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            o = json.loads(line)
            out.append(
                Question(
                    str(o.get("qid", lineno)),
                    o["question"],
                    tuple(o.get("answers") or ()),
                    str(o.get("doc_id", "")),
                    str(o.get("lang", "")),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(
                f'{path}:{lineno}: not a question object ({exc}); expected {{"qid", "question", "answers", "doc_id"}}'
            ) from None
    return out


def norm(text: str) -> str:
    return _WS.sub(" ", normalize_apostrophes(text).lower()).strip()


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    t = norm(text)
    return any(norm(a) and norm(a) in t for a in answers)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


class RetrievalTally:
    """Retrieval metrics accumulated one question at a time, readable at any point (`metrics`)."""

    def __init__(self, ks: Sequence[int] = (1, 3, 5, 10)) -> None:
        self.ks = tuple(ks)
        self.depth = max(max(self.ks), 10)
        self.found = {k: 0 for k in self.ks}
        self.doc5 = 0
        self.rr = 0.0
        self.chars: list[int] = []
        self.lat: list[float] = []

    def add(self, q: Question, hits: Sequence[Hit], ms: float) -> None:
        hits = hits[: self.depth]
        self.lat.append(ms)
        first = next((i for i, h in enumerate(hits, 1) if contains_answer(h.chunk.text, q.answers)), None)
        for k in self.ks:
            self.found[k] += bool(first and first <= k)
        self.rr += 1.0 / first if first and first <= 10 else 0.0
        self.doc5 += any(h.chunk.doc_id == q.doc_id for h in hits[:5])
        self.chars.append(sum(len(h.chunk.text) for h in hits[:5]))

    def metrics(self) -> dict[str, Any]:
        n = max(1, len(self.lat))
        out: dict[str, Any] = {f"recall@{k}": self.found[k] / n for k in self.ks}
        out.update(
            {
                "doc_recall@5": self.doc5 / n,
                "mrr@10": self.rr / n,
                "top5_chars": statistics.fmean(self.chars) if self.chars else 0,
                "retrieval_ms_p50": percentile(self.lat, 50),
                "retrieval_ms_p95": percentile(self.lat, 95),
                "questions": len(self.lat),
            }
        )
        return out


def retrieval_metrics(
    questions: Sequence[Question],
    search: Callable[[str], list[Hit]],
    ks: Sequence[int] = (1, 3, 5, 10),
    on_step: Callable[[RetrievalTally], None] | None = None,
) -> dict[str, Any]:
    """Answer recall@k, doc recall@5, MRR@10, mean characters in the top 5, latency p50/p95 (ms).
    `on_step` gets the tally after each question (progress, partial results)."""
    tally = RetrievalTally(ks)
    for q in questions:
        t = time.perf_counter()
        hits = search(q.question)
        tally.add(q, hits, (time.perf_counter() - t) * 1000)
        if on_step:
            on_step(tally)
    return tally.metrics()


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", norm(text))


def token_f1(prediction: str, gold: str) -> float:
    p, g = _tokens(prediction), _tokens(gold)
    if not p or not g:
        return 0.0
    common = sum(min(p.count(t), g.count(t)) for t in set(p) & set(g))
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


class AnswerTally:
    """Answer metrics accumulated one question at a time, readable at any point (`metrics`)."""

    def __init__(self) -> None:
        self.hits = self.answered = self.cited = self.cited_ok = 0
        # Answers that are close calls (`Answer.close_passages`), their citations and the precise ones.
        self.close = self.close_cited = self.close_ok = 0
        self.f1s: list[float] = []
        self.lat: list[float] = []
        self.refused: list[bool] = []
        # One record per question (what `rag eval --output` keeps, for per-band and per-split figures).
        self.rows: list[dict[str, Any]] = []
        self.unanswerable_rows: list[dict[str, Any]] = []

    def add(self, q: Question, a: Answer, ms: float) -> None:
        """An answerable question's answer."""
        self.lat.append(ms)
        self.answered += a.answered
        row = {"qid": q.qid, "confidence": a.confidence, "support": a.support, "hit": False, "cited": 0, "cited_ok": 0}
        self.rows.append(row)
        if not a.answered:
            self.f1s.append(0.0)
            return
        hit = contains_answer(a.text, q.answers)
        self.hits += hit
        self.f1s.append(max(token_f1(a.text, g) for g in q.answers))
        passages = {h.chunk.chunk_id: h.chunk.text for h in a.passages}
        # subtle: a citation is precise when its quote comes from a passage with a gold answer.
        precise = sum(contains_answer(passages.get(c.chunk_id, c.quote), q.answers) for c in a.citations)
        self.cited += len(a.citations)
        self.cited_ok += precise
        row.update(hit=hit, cited=len(a.citations), cited_ok=precise)
        if a.close_passages:
            self.close += 1
            self.close_cited += len(a.citations)
            self.close_ok += precise

    def add_unanswerable(self, a: Answer, q: Question | None = None) -> None:
        self.refused.append(not a.answered)
        self.unanswerable_rows.append({"qid": q.qid if q else "", "confidence": a.confidence, "support": a.support})

    def metrics(self) -> dict[str, Any]:
        n = max(1, len(self.lat))
        out: dict[str, Any] = {
            "hit_rate": self.hits / n,
            "token_f1": statistics.fmean(self.f1s) if self.f1s else 0.0,
            "citation_precision": self.cited_ok / self.cited if self.cited else 0.0,
            "answered": self.answered / n,
            "answer_ms_p50": percentile(self.lat, 50),
            "answer_ms_p95": percentile(self.lat, 95),
        }
        # How much a close call says: the share of answers flagged, and citation precision over the
        # flagged answers and over the others.
        out["close_calls"] = self.close / self.answered if self.answered else 0.0
        out["citation_precision_close"] = self.close_ok / self.close_cited if self.close_cited else 0.0
        clear = self.cited - self.close_cited
        out["citation_precision_clear"] = (self.cited_ok - self.close_ok) / clear if clear else 0.0
        if self.refused:
            out["refused"] = sum(self.refused) / len(self.refused)
        # Per outcome (`Answer.confidence`): the share of questions, and of those the hit rate and
        # citation precision ("How sure" in BENCHMARKS.md).
        for band in ("sure", "closest"):
            rows = [r for r in self.rows if r["confidence"] == band]
            cited = sum(r["cited"] for r in rows)
            out[f"{band}_share"] = len(rows) / n
            out[f"{band}_hit_rate"] = sum(r["hit"] for r in rows) / len(rows) if rows else 0.0
            out[f"{band}_citation_precision"] = sum(r["cited_ok"] for r in rows) / cited if cited else 0.0
            if self.unanswerable_rows:
                share = sum(r["confidence"] == band for r in self.unanswerable_rows) / len(self.unanswerable_rows)
                out[f"{band}_share_unanswerable"] = share
        return out


def answer_metrics(
    questions: Sequence[Question],
    ask: Callable[[str], Answer],
    on_step: Callable[[AnswerTally], None] | None = None,
    unanswerable: Sequence[Question] = (),
    per_question: bool = False,
) -> dict[str, Any]:
    """Hit rate, token F1, citation precision, share answered (and refused, for `unanswerable`),
    and the same per outcome (`Answer.confidence`). `on_step` gets the tally after each question
    (progress, partial results); `per_question` adds each question's record ("per_question",
    "per_unanswerable_question")."""
    tally = AnswerTally()
    for q in questions:
        t = time.perf_counter()
        a = ask(q.question)
        tally.add(q, a, (time.perf_counter() - t) * 1000)
        if on_step:
            on_step(tally)
    for q in unanswerable:
        tally.add_unanswerable(ask(q.question), q)
        if on_step:
            on_step(tally)
    out = tally.metrics()
    if per_question:
        out.update(per_question=tally.rows, per_unanswerable_question=tally.unanswerable_rows)
    return out


def cached_index_dir(cache: Path, corpus: Path, config: Config, store: str) -> Path:
    """The folder under `cache` for an index of `corpus` built with `config` in `store`: the same
    folder, so the same index, while the corpus bytes and every setting the index depends on are."""
    settings = {**config.index_settings(), "store": store, "embedding_backend": config.embedding_backend}
    h = hashlib.sha256(Path(corpus).read_bytes())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return Path(cache) / h.hexdigest()[:16]


def without(index: Index, rows: Iterable[int]) -> Index:
    """A view of `index` in which the chunks at `rows` are never found, by either retriever, as if
    they were not indexed (BM25's corpus statistics stay): for asking a question whose answer was
    taken out of its article. The local stores only (FAISS and bm25s)."""
    left_out = frozenset(rows)
    return replace(
        index, store=cast(Any, _Without(index.store, left_out)), lexical=cast(Any, _Without(index.lexical, left_out))
    )


class _Without:
    """A store whose `search(..., k)` skips `rows`: it asks the inner store for k more."""

    def __init__(self, inner: Any, rows: frozenset[int]) -> None:
        self._inner, self._rows = inner, rows

    def search(self, *args: Any) -> list[tuple[int, float]]:
        *query, k = args
        found = self._inner.search(*query, k + len(self._rows))
        return [p for p in found if p[0] not in self._rows][:k]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass(frozen=True)
class Conversation:
    """A two-turn (or longer) conversation whose last question depends on the earlier ones."""

    cid: str
    corpus: str
    turns: tuple[str, ...]
    answers: tuple[str, ...]
    standalone: str


def read_conversations(path: str | Path) -> list[Conversation]:
    """Conversations from JSONL: `{"id", "corpus", "turns": [q1, q2], "answers", "standalone"}`."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            o = json.loads(line)
            out.append(Conversation(o["id"], o["corpus"], tuple(o["turns"]), tuple(o["answers"]), o["standalone"]))
    return out


def followup_metrics(conversations: Sequence[Conversation], ask: Callable[..., Answer]) -> dict[str, float]:
    """Last-turn answer recall@5 (gold in the retrieved passages) and hit rate, three ways: the
    question alone, with the conversation (`ask(q, history=...)`, the system's own earlier answers
    in the history) and the hand-written standalone rewrite (the ceiling)."""
    counts: dict[str, list[int]] = {}
    for conv in conversations:
        history: list[dict[str, str]] = []
        for q in conv.turns[:-1]:
            history += [{"role": "user", "content": q}, {"role": "assistant", "content": ask(q, history=history).text}]
        last = conv.turns[-1]
        for name, answer in (
            ("alone", ask(last)),
            ("history", ask(last, history=history)),
            ("standalone", ask(conv.standalone)),
        ):
            passages = " ".join(h.chunk.text for h in answer.passages[:5])
            counts.setdefault(f"{name}_recall@5", []).append(contains_answer(passages, conv.answers))
            counts.setdefault(f"{name}_hit_rate", []).append(
                answer.answered and contains_answer(answer.text, conv.answers)
            )
    return {key: sum(v) / len(v) for key, v in counts.items()} | {"conversations": len(conversations)}
