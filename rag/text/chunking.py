"""Sentence splitting and chunking, with character offsets into the document.

Chunks follow paragraphs and sentences, overlap by whole sentences, and never exceed the embedding
model's token limit (measured with the model's own tokenizer). Invariant:
`doc.text[chunk.start:chunk.end] == chunk.text`, and the chunks cover every non-space character.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..records import Chunk, Document

TokenCounter = Callable[[Sequence[str]], list[int]]

# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by space and a likely start.
_END_RE = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s+[\"'«“‘(\[¿¡]?\s*[A-ZÀ-ÖØ-Þ0-9])")
_ABBREV = frozenset(
    """m mm mme mmes mlle dr pr st ste me mgr etc cf ex p pp vol no n° fig ch art env av apr
    mr mrs ms jr sr prof gen col lt vs inc ltd co corp dept approx est u.s u.k e.g i.e""".split()
)
# A blank line always ends a paragraph. A single line break does too, unless it is a soft wrap inside
# a sentence (hard-wrapped text, Markdown): the line before ends without punctuation and is long
# enough to be prose, and the next line does not start a list item or a heading.
_PARA_RE = re.compile(r"\n\s*\n|\n")
_SOFT_WRAP_RE = re.compile(r"[\w,;’'\-–)]$")
_BLOCK_START_RE = re.compile(r"\s*(?:[-*+•>#|]|\d+[.)]\s)")
MIN_WRAPPED_LINE = 40


def approx_token_counter(texts: Sequence[str]) -> list[int]:
    """Rough count (a word piece per 3 characters) for callers without a tokenizer."""
    return [max(1, len(t) // 3) for t in texts]


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text[start:end]`, trimmed of surrounding space.

    Paragraph breaks always end a sentence. Abbreviations (M., Dr., etc.) and initials do not.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    para_start = start
    breaks = [m for m in _PARA_RE.finditer(text, start, end) if not _soft_wrap(text, m, para_start)]
    for m in breaks + [None]:
        para_end = m.start() if m else end
        _sentences_in(text, para_start, para_end, spans)
        if m is None:
            break
        para_start = m.end()
    return spans


def _soft_wrap(text: str, m: re.Match[str], start: int) -> bool:
    if m.group() != "\n":
        return False
    i = text.rfind("\n", start, m.start())
    line = text[i + 1 if i >= 0 else start : m.start()].rstrip()
    return (
        len(line) >= MIN_WRAPPED_LINE
        and bool(_SOFT_WRAP_RE.search(line))
        and not _BLOCK_START_RE.match(text, m.end())
        and not line.lstrip().startswith("#")
    )


def _sentences_in(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    s = start
    for m in _END_RE.finditer(text, start, end):
        cut = m.end()
        word = re.search(r"([\w.]+)[.!?…]*[\"'»”’)\]]*$", text[s:cut])
        token = word.group(1).rstrip(".").lower() if word else ""
        if text[m.start()] == "." and (token in _ABBREV or (len(token) == 1 and token.isalpha())):
            continue  # "M. Rao", "J. Smith": not a sentence end
        _append_trimmed(text, s, cut, out)
        s = cut
    _append_trimmed(text, s, end, out)


def _append_trimmed(text: str, s: int, e: int, out: list[tuple[int, int]]) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s:
        out.append((s, e))


def chunk_document(
    doc: Document,
    *,
    chunk_chars: int,
    overlap_sentences: int,
    max_tokens: int,
    count_tokens: TokenCounter = approx_token_counter,
) -> list[Chunk]:
    """Pack the sentences of `doc` into chunks of about `chunk_chars` characters.

    Args:
        doc: the document.
        chunk_chars: target size; a chunk closes before the sentence that would pass it.
        overlap_sentences: sentences carried over from one chunk into the next.
        max_tokens: hard cap per chunk in `count_tokens` units (the model's own tokens).
        count_tokens: token counts for a batch of texts.

    Returns:
        Chunks in document order; ids `"{doc_id}#{i}"` are stable while the text is unchanged.
    """
    if chunk_chars < 1 or max_tokens < 8:
        raise ValueError(f"chunk_chars must be >= 1 and max_tokens >= 8 (got {chunk_chars}, {max_tokens})")
    spans = _fit_sentences(doc.text, split_sentences(doc.text), max_tokens, count_tokens)
    counts = count_tokens([doc.text[s:e] for s, e in spans]) if spans else []
    paragraph_start = [i == 0 or "\n" in doc.text[spans[i - 1][1] : spans[i][0]] for i in range(len(spans))]
    groups: list[tuple[int, int]] = []  # sentence index ranges [i, j)
    i = 0
    while i < len(spans):
        j = i + 1
        tokens = counts[i]
        while j < len(spans):
            size = spans[j][1] - spans[i][0]
            if size > chunk_chars or tokens + counts[j] + 1 > max_tokens:
                break
            # Prefer a paragraph break once the chunk is reasonably full.
            if paragraph_start[j] and spans[j - 1][1] - spans[i][0] >= 0.6 * chunk_chars:
                break
            tokens += counts[j] + 1
            j += 1
        groups.append((i, j))
        if j >= len(spans):
            break
        back = min(overlap_sentences, j - i - 1)  # always move forward by at least one sentence
        # An overlap that would fill most of the next chunk buys little: drop it.
        while back > 0 and spans[j - 1][1] - spans[j - back][0] > chunk_chars // 2:
            back -= 1
        i = j - back
    chunks = []
    for n, (a, b) in enumerate(groups):
        s, e = spans[a][0], spans[b - 1][1]
        chunks.append(
            Chunk(chunk_id=f"{doc.doc_id}#{n}", doc_id=doc.doc_id, title=doc.title, text=doc.text[s:e], start=s, end=e)
        )
    return chunks


def _fit_sentences(
    text: str, spans: list[tuple[int, int]], max_tokens: int, count_tokens: TokenCounter
) -> list[tuple[int, int]]:
    """Split any sentence longer than `max_tokens` at word boundaries so every piece fits."""
    counts = count_tokens([text[s:e] for s, e in spans]) if spans else []
    out: list[tuple[int, int]] = []
    for (s, e), n in zip(spans, counts, strict=True):
        if n <= max_tokens:
            out.append((s, e))
            continue
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[s:e])]
        word_counts = count_tokens([text[s + a : s + b] for a, b in words])
        piece_start, tokens, prev_end = words[0][0], 0, words[0][1]
        for (a, b), wc in zip(words, word_counts, strict=True):
            if tokens and tokens + wc > max_tokens - 2:
                _append_trimmed(text, s + piece_start, s + prev_end, out)
                piece_start, tokens = a, 0
            if wc > max_tokens - 2:  # one "word" longer than the model window (a URL, base64...)
                step = max(1, (b - a) * (max_tokens - 2) // wc)
                for x in range(a, b, step):
                    out.append((s + x, s + min(b, x + step)))
                piece_start, tokens, prev_end = b, 0, b
                continue
            tokens += wc
            prev_end = b
        if tokens:
            _append_trimmed(text, s + piece_start, s + prev_end, out)
    return out


TITLE_PREFIX_CHARS = 200


def title_prefix(title: str, with_title: bool) -> str:
    """The line put before each chunk of a document (capped: it shares the model's window)."""
    return f"{title[:TITLE_PREFIX_CHARS]}\n" if with_title and title else ""


def retrieval_text(title: str, text: str, with_title: bool) -> str:
    """What is embedded and BM25-indexed for a chunk (the title gives passages their subject)."""
    return title_prefix(title, with_title) + text
