"""BM25 over chunks with bm25s: French-aware terms (elisions, accent folding, Snowball stemming by
document language, stop words). Owns the lexical index and its files, nothing else."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..records import Lang
from ..text.terms import query_stems, stems


def passage_terms(text: str, lang: Lang) -> list[str]:
    """The BM25 terms of a passage (shared with Milvus' BM25, which is fed the same terms)."""
    # subtle: interned, one object per distinct term: a 150k-passage index otherwise holds ~15M
    # separate strings while it is built (-500 MB at the commit's peak, benchmarks/ingest.py).
    return [sys.intern(t) for t in stems(text, lang)]


TERMS_FILES = ("terms.txt", "terms-ids.npy", "terms-offsets.npy")


def save_terms(folder: Path, terms: Sequence[list[str]]) -> None:
    """Each passage's BM25 terms, so an update re-reads them instead of stemming every passage
    again: the vocabulary (one term a line), the term ids end to end, and where each passage's begin."""
    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(t, len(vocab)) for ts in terms for t in ts), dtype=np.int32)
    offsets = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum([len(ts) for ts in terms], out=offsets[1:])
    (folder / TERMS_FILES[0]).write_text("".join(f"{t}\n" for t in vocab), encoding="utf-8")
    np.save(folder / TERMS_FILES[1], ids, allow_pickle=False)
    np.save(folder / TERMS_FILES[2], offsets, allow_pickle=False)


def load_terms(folder: Path, size: int) -> list[list[str]] | None:
    """The terms `save_terms` wrote for `size` passages; None when the version has none (an index
    written before they were kept) or they do not match."""
    try:
        vocab = [sys.intern(t) for t in (folder / TERMS_FILES[0]).read_text(encoding="utf-8").split("\n")[:-1]]
        ids = np.load(folder / TERMS_FILES[1], allow_pickle=False)
        offsets = np.load(folder / TERMS_FILES[2], allow_pickle=False)
    except (OSError, ValueError):
        return None
    if len(offsets) != size + 1 or (len(ids) and int(ids.max()) >= len(vocab)) or int(offsets[-1]) != len(ids):
        return None
    words = np.array(vocab, dtype=object)[ids].tolist() if len(ids) else []
    return [words[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]


class LexicalIndex:
    """BM25 scores for a fixed list of passages (row i is passage i)."""

    def __init__(self, retriever: object, size: int) -> None:
        self._bm25 = retriever
        self.size = size

    @classmethod
    def build(cls, terms: Sequence[list[str]]) -> LexicalIndex:
        """BM25 over passages given as their terms (`passage_terms` of each text)."""
        import bm25s

        corpus = [t or [""] for t in terms]
        bm25 = bm25s.BM25()
        if corpus:
            bm25.index(corpus, show_progress=False)
        return cls(bm25, len(corpus))

    def save(self, folder: Path) -> None:
        if self.size:
            self._bm25.save(str(folder), show_progress=False)  # type: ignore[attr-defined]

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        import bm25s

        if size == 0:
            return cls(bm25s.BM25(), 0)
        return cls(bm25s.BM25.load(str(folder), mmap=False), size)

    def search(self, query: str, lang: Lang, k: int) -> list[tuple[int, float]]:
        """Top `k` (row, score) by BM25, best first; only rows sharing a term with the query."""
        if not self.size or k <= 0:
            return []
        vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
        terms = [t for t in query_stems(query, lang) if t in vocab]
        if not terms:
            return []
        scores = np.asarray(self._bm25.get_scores(terms), dtype=np.float32)  # type: ignore[attr-defined]
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each term over the passages (unseen terms: highest)."""
        n = max(1, self.size)
        vocab = getattr(self._bm25, "vocab_dict", None) or {}
        indptr = self._bm25.scores["indptr"] if self.size else None  # type: ignore[attr-defined]
        out = {}
        for t in terms:
            i = vocab.get(t)
            df = int(indptr[i + 1] - indptr[i]) if i is not None and indptr is not None else 0
            out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        return out

    def idf_of_df(self, df: int) -> float:
        n = max(1, self.size)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
