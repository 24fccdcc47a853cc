"""Second-stage reranking by query likelihood: a causal language model scores each candidate passage
by how probable the question is after it, log P(question | title + passage) averaged over the
question's tokens (UPR, Sachan et al. 2022). The bundled Gemma 3 270M needs no training and reads
French. The final order mixes that score with the hybrid one (z-scores, `Config.rerank_weight`).
Owns the scoring; knows nothing about indexes or answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .records import Chunk, Document, Hit, Lang

# The question follows its passage, as a reader would write one about it.
TEMPLATES: dict[Lang, tuple[str, str]] = {
    "fr": ("Passage : {title}\n{text}\nQuestion sur ce passage :", " {question}"),
    "en": ("Passage: {title}\n{text}\nA question about this passage:", " {question}"),
}
# Passages longer than this (in the LM's tokens) are cut: the cost grows with length and the
# chunker keeps passages far below it.
MAX_PASSAGE_TOKENS = 512
MAX_QUESTION_TOKENS = 96

_shared: dict[tuple[str, str], Reranker] = {}
_shared_lock = threading.Lock()


class Reranker:
    """A causal LM that scores passages by the likelihood of a question.

    Args:
        model: a Hugging Face id, a local folder or a .gguf file; "" is the bundled Gemma 3 270M.
        cache_dir: where GGUF conversions are kept (default ~/.cache/rag).
    """

    def __init__(self, model: str = "", *, cache_dir: Path | None = None) -> None:
        from .llm import TransformersLLM

        lm = TransformersLLM(model, cache_dir=cache_dir, chat=False)
        self.tokenizer = lm.tokenizer
        self.model = lm.model
        self.name = lm.name
        self._lock = threading.Lock()

    def scores(
        self,
        question: str,
        passages: Sequence[tuple[str, str]],
        *,
        lang: Lang,
        template: tuple[str, str] | None = None,
    ) -> list[float]:
        """Mean log-probability of each question token after each (title, passage); higher is better.

        `template` is a (passage prefix, question suffix) pair in the form of `TEMPLATES`' values;
        by default the one for `lang`."""
        logp = self.token_logprobs(question, passages, lang=lang, template=template)
        if not logp.shape[1]:
            return [0.0] * len(passages)
        return [float(row.mean()) for row in logp]

    def token_logprobs(
        self,
        question: str,
        passages: Sequence[tuple[str, str]],
        *,
        lang: Lang,
        template: tuple[str, str] | None = None,
    ) -> Any:
        """Log-probability of each question token after each (title, passage): an array of
        (passages, question tokens), float32; `scores` averages its rows."""
        import torch

        head, tail = template or TEMPLATES[lang]
        q_ids = self.tokenizer(tail.format(question=question.strip()), add_special_tokens=False).input_ids
        q_ids = q_ids[:MAX_QUESTION_TOKENS]
        if not passages or not q_ids:
            return np.zeros((len(passages), 0), dtype=np.float32)
        prefixes = []
        for title, text in passages:
            ids = self.tokenizer(head.format(title=title, text=text), add_special_tokens=True).input_ids
            if len(ids) > MAX_PASSAGE_TOKENS:  # keep the cue that introduces the question
                cue = self.tokenizer("\n" + head.rsplit("\n", 1)[1], add_special_tokens=False)
                ids = ids[: MAX_PASSAGE_TOKENS - len(cue.input_ids)] + cue.input_ids
            prefixes.append(ids)
        width = max(len(p) for p in prefixes) + len(q_ids)
        ids = torch.zeros(len(prefixes), width, dtype=torch.long)
        mask = torch.zeros(len(prefixes), width, dtype=torch.long)
        for i, p in enumerate(prefixes):  # right padding: real positions keep their numbers
            ids[i, : len(p) + len(q_ids)] = torch.tensor(p + q_ids)
            mask[i, : len(p) + len(q_ids)] = 1
        target = torch.tensor(q_ids)
        out = np.zeros((len(prefixes), len(q_ids)), dtype=np.float32)
        with self._lock, torch.inference_mode():
            # subtle: only the question positions need the 262k-word output layer; running it on
            # every position would cost more than the transformer itself.
            hidden = self.model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            for i, p in enumerate(prefixes):
                logits = self.model.lm_head(hidden[i, len(p) - 1 : len(p) - 1 + len(q_ids)]).float()
                cap = getattr(self.model.config, "final_logit_softcapping", None)
                if cap:
                    logits = torch.tanh(logits / cap) * cap
                out[i] = torch.log_softmax(logits, dim=-1)[torch.arange(len(q_ids)), target].numpy()
        return out


def load_reranker(model: str = "", *, cache_dir: Path | None = None) -> Reranker:
    """A reranker shared by everything in this process that asks for the same model."""
    key = (model, str(cache_dir or ""))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Reranker(model, cache_dir=cache_dir)
        return _shared[key]


def rerank(hits: Sequence[Hit], scores: Sequence[float], *, weight: float, k: int) -> list[Hit]:
    """The `k` best of `hits` by weight * z(scores) + (1 - weight) * z(hit scores), renumbered.

    Each returned hit keeps its retrieval score in `retrieval_score`, its LM score in
    `rerank_score`, and gets the mixed score as `score`.
    """
    if len(scores) != len(hits):
        raise ValueError(f"got {len(scores)} scores for {len(hits)} hits")
    if not hits:
        return []
    mixed = weight * zscores(scores) + (1 - weight) * zscores([h.score for h in hits])
    order = sorted(range(len(hits)), key=lambda i: (-mixed[i], i))
    return [
        replace(hits[i], score=float(mixed[i]), rank=r, retrieval_score=hits[i].score, rerank_score=float(scores[i]))
        for r, i in enumerate(order[:k], 1)
    ]


def passages(documents: Mapping[str, Document], chunks: Iterable[Chunk]) -> list[tuple[str, str]]:
    """What the reranker reads of each chunk: (its document's title, its text), for `Reranker.scores`."""
    return [(documents[c.doc_id].title, c.text) for c in chunks]


def zscores(values: Sequence[float]) -> Any:
    """`values` centred and scaled to unit deviation (all zeros when they are all equal)."""
    x = np.asarray(values, dtype=float)
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)
