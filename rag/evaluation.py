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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .lang import normalize_apostrophes
from .records import Answer, Hit

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


def retrieval_metrics(
    questions: Sequence[Question],
    search: Callable[[str], list[Hit]],
    ks: Sequence[int] = (1, 3, 5, 10),
    on_step: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Answer recall@k, doc recall@5, MRR@10, mean characters in the top 5, latency p50/p95 (ms)."""
    kmax = max(max(ks), 10)
    found = {k: 0 for k in ks}
    doc5 = 0
    rr = 0.0
    chars: list[int] = []
    lat: list[float] = []
    for q in questions:
        t = time.perf_counter()
        hits = search(q.question)[:kmax]
        lat.append((time.perf_counter() - t) * 1000)
        first = next((i for i, h in enumerate(hits, 1) if contains_answer(h.chunk.text, q.answers)), None)
        for k in ks:
            found[k] += bool(first and first <= k)
        rr += 1.0 / first if first and first <= 10 else 0.0
        doc5 += any(h.chunk.doc_id == q.doc_id for h in hits[:5])
        chars.append(sum(len(h.chunk.text) for h in hits[:5]))
        if on_step:
            on_step()
    n = max(1, len(questions))
    out: dict[str, Any] = {f"recall@{k}": found[k] / n for k in ks}
    out.update(
        {
            "doc_recall@5": doc5 / n,
            "mrr@10": rr / n,
            "top5_chars": statistics.fmean(chars) if chars else 0,
            "retrieval_ms_p50": percentile(lat, 50),
            "retrieval_ms_p95": percentile(lat, 95),
            "questions": len(questions),
        }
    )
    return out


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


def answer_metrics(
    questions: Sequence[Question],
    ask: Callable[[str], Answer],
    on_step: Callable[[], None] | None = None,
    unanswerable: Sequence[Question] = (),
) -> dict[str, Any]:
    """Hit rate, token F1, citation precision, share answered (and refused, for `unanswerable`)."""
    hits = answered = 0
    f1s: list[float] = []
    cited = cited_ok = 0
    lat: list[float] = []
    for q in questions:
        t = time.perf_counter()
        a = ask(q.question)
        lat.append((time.perf_counter() - t) * 1000)
        answered += a.answered
        if a.answered:
            hits += contains_answer(a.text, q.answers)
            f1s.append(max(token_f1(a.text, g) for g in q.answers))
            passages = {h.chunk.chunk_id: h.chunk.text for h in a.passages}
            for c in a.citations:
                cited += 1
                # subtle: a citation is precise when its quote comes from a passage with a gold answer.
                cited_ok += contains_answer(passages.get(c.chunk_id, c.quote), q.answers)
        else:
            f1s.append(0.0)
        if on_step:
            on_step()
    refused = 0
    for q in unanswerable:
        refused += not ask(q.question).answered
        if on_step:
            on_step()
    n = max(1, len(questions))
    out: dict[str, Any] = {
        "hit_rate": hits / n,
        "token_f1": statistics.fmean(f1s) if f1s else 0.0,
        "citation_precision": cited_ok / cited if cited else 0.0,
        "answered": answered / n,
        "answer_ms_p50": percentile(lat, 50),
        "answer_ms_p95": percentile(lat, 95),
    }
    if unanswerable:
        out["refused"] = refused / len(unanswerable)
    return out


def cached_index_dir(cache: Path, corpus: Path, config: Config, store: str) -> Path:
    """The folder under `cache` for an index of `corpus` built with `config` in `store`: the same
    folder, so the same index, while the corpus bytes and every setting the index depends on are."""
    settings = {**config.index_settings(), "store": store, "embedding_backend": config.embedding_backend}
    h = hashlib.sha256(Path(corpus).read_bytes())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return Path(cache) / h.hexdigest()[:16]


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
