"""Query likelihood under a causal LM: log P(question | title + passage) averaged over the
question's tokens (UPR, Sachan et al. 2022), computed fast on CPU (each passage's keys and values
kept for the next question, the output layer run on the question's positions only, slice by slice).
Owns the model runtime; knows nothing about indexes, rankings or answers (`search.rerank` mixes).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..records import Lang

# The question follows its passage, as a reader would write one about it.
TEMPLATES: dict[Lang, tuple[str, str]] = {
    "fr": ("Passage : {title}\n{text}\nQuestion sur ce passage :", " {question}"),
    "en": ("Passage: {title}\n{text}\nA question about this passage:", " {question}"),
}
# Passages longer than this (in the LM's tokens) are cut: the cost grows with length and the
# chunker keeps passages far below it.
MAX_PASSAGE_TOKENS = 512
MAX_QUESTION_TOKENS = 96
# Each passage's attention keys and values are kept for the next question that retrieves it (LRU):
# ~18 KB per token for Gemma 3 270M, so ~3.5 MB per 650-character passage and ~140 passages here.
PREFIX_CACHE_MB = 512
# Passages whose prefixes are computed in one batch; the output layer runs on at most this many
# question positions at once, over this many words of the vocabulary at a time: the logits never
# exist whole, and a slice stays in the processor's cache from the product to its logsumexp (~2x
# faster than writing all the logits out; EXPERIMENTS.md).
PREFIX_BATCH = 16
HEAD_POSITIONS = 256
VOCAB_SLICE = 8192

_shared: dict[tuple[str, str, int], Reranker] = {}
_shared_lms: dict[tuple[str, str], Any] = {}  # the loaded models, shared by rerankers of any memory
_shared_lock = threading.Lock()


@dataclass(frozen=True)
class _Prefix:
    """A passage prompt read once: each layer's (keys, values) and the last position's hidden state."""

    layers: tuple[tuple[Any, Any], ...]
    last: Any
    nbytes: int


class Reranker:
    """A causal LM that scores passages by the likelihood of a question.

    A passage's prompt does not depend on the question, so what the model computed over it (its
    attention keys and values) is kept and only the question's tokens are run for the next question
    that retrieves it: ~4x faster here once the passages have been seen (BENCHMARKS.md). A passage
    read in another batch can score differently in the last bf16 digits (~0.01-0.05 of a mean
    log-probability).

    Args:
        model: a Hugging Face id, a local folder or a .gguf file; "" is the bundled Gemma 3 270M.
        cache_dir: where GGUF conversions are kept (default ~/.cache/rag).
        prefix_cache_mb: memory for the passages' keys and values; 0 reads every passage anew.
        lm: the `TransformersLLM` of `model` when already loaded (`load_reranker` shares one).
    """

    def __init__(
        self,
        model: str = "",
        *,
        cache_dir: Path | None = None,
        prefix_cache_mb: int = PREFIX_CACHE_MB,
        lm: Any = None,
    ) -> None:
        from .llm import TransformersLLM

        if prefix_cache_mb < 0:
            raise ValueError(f"prefix_cache_mb must be 0 or more (got {prefix_cache_mb}); 0 keeps no passage")
        lm = lm or TransformersLLM(model, cache_dir=cache_dir, chat=False)
        self.tokenizer = lm.tokenizer
        self.model = lm.model
        self.name = lm.name
        self._lock = threading.Lock()
        self._prefixes: OrderedDict[tuple[int, ...], _Prefix] = OrderedDict()
        self._prefix_bytes = 0
        self._prefix_budget = prefix_cache_mb * 2**20
        text_config = self.model.config.get_text_config()
        self._window: int | None = getattr(text_config, "sliding_window", None)

    def scores(
        self,
        question: str,
        passages: Sequence[tuple[str, str]],
        *,
        lang: Lang,
    ) -> list[float]:
        """Mean log-probability of each question token after each (title, passage); higher is better."""
        logp = self.token_logprobs(question, passages, lang=lang)
        if not logp.shape[1]:
            return [0.0] * len(passages)
        return [float(row.mean()) for row in logp]

    def token_logprobs(
        self,
        question: str,
        passages: Sequence[tuple[str, str]],
        *,
        lang: Lang,
    ) -> Any:
        """Log-probability of each question token after each (title, passage): an array of
        (passages, question tokens), float32; `scores` averages its rows."""
        import torch

        head, tail = TEMPLATES[lang]
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
        # subtle: the kept keys and values stand in for the passage only when the question's
        # attention sees all of it; past a sliding window the whole sequence is read at once.
        fits = self._window is None or max(len(p) for p in prefixes) + len(q_ids) <= self._window
        with self._lock, torch.inference_mode():
            if self._prefix_budget > 0 and fits:
                hidden = self._hidden_after_prefixes(prefixes, q_ids)
            else:
                hidden = self._hidden_whole(prefixes, q_ids)
            return self._logprobs(hidden, q_ids)

    def _hidden_whole(self, prefixes: list[list[int]], q_ids: list[int]) -> Any:
        """The hidden states that predict each question token, each passage read with its question."""
        import torch

        ids, mask = _right_padded([p + q_ids for p in prefixes])
        hidden = self.model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return torch.stack([hidden[i, len(p) - 1 : len(p) - 1 + len(q_ids)] for i, p in enumerate(prefixes)])

    def _hidden_after_prefixes(self, prefixes: list[list[int]], q_ids: list[int]) -> Any:
        """The same hidden states from each passage's kept keys and values: only the question's
        tokens are run, for all passages in one left-padded batch."""
        import torch
        import torch.nn.functional as F
        from transformers import DynamicCache

        states = self._prefix_states(prefixes)
        first = torch.cat([s.last for s in states])[:, None]  # predicts the question's first token
        rest = q_ids[:-1]
        if not rest:
            return first
        longest = max(len(p) for p in prefixes)
        layers = []
        for n in range(len(states[0].layers)):
            keys = [F.pad(s.layers[n][0], (0, 0, longest - len(p), 0)) for s, p in zip(states, prefixes, strict=True)]
            values = [F.pad(s.layers[n][1], (0, 0, longest - len(p), 0)) for s, p in zip(states, prefixes, strict=True)]
            layers.append((torch.cat(keys), torch.cat(values)))
        mask = torch.zeros(len(prefixes), longest + len(rest), dtype=torch.long)
        positions = torch.zeros(len(prefixes), len(rest), dtype=torch.long)
        for i, p in enumerate(prefixes):  # left padding: the cached keys already carry their positions
            mask[i, longest - len(p) :] = 1
            positions[i] = len(p) + torch.arange(len(rest))
        out = self.model.model(
            input_ids=torch.tensor([rest] * len(prefixes)),
            attention_mask=mask,
            position_ids=positions,
            past_key_values=DynamicCache(layers, config=self.model.config),
            use_cache=True,
        )
        return torch.cat([first, out.last_hidden_state], dim=1)

    def _prefix_states(self, prefixes: list[list[int]]) -> list[_Prefix]:
        """Each passage prompt's keys and values: kept ones, the others computed in right-padded batches."""

        found = {key: self._prefixes[key] for key in map(tuple, prefixes) if key in self._prefixes}
        missing = [key for key in dict.fromkeys(map(tuple, prefixes)) if key not in found]
        for start in range(0, len(missing), PREFIX_BATCH):
            group = missing[start : start + PREFIX_BATCH]
            ids, mask = _right_padded(group)
            out = self.model.model(input_ids=ids, attention_mask=mask, use_cache=True)
            for i, p in enumerate(group):
                layers = tuple(
                    (layer.keys[i : i + 1, :, : len(p)].clone(), layer.values[i : i + 1, :, : len(p)].clone())
                    for layer in out.past_key_values.layers
                )
                last = out.last_hidden_state[i : i + 1, len(p) - 1].clone()
                size = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)
                found[p] = _Prefix(layers, last, size + last.numel() * last.element_size())
        for key, state in found.items():  # remembered after use: this call never evicts its own
            if key in self._prefixes:
                self._prefixes.move_to_end(key)
                continue
            self._prefixes[key] = state
            self._prefix_bytes += state.nbytes
        evicted = False
        while self._prefix_bytes > self._prefix_budget and self._prefixes:
            self._prefix_bytes -= self._prefixes.popitem(last=False)[1].nbytes
            evicted = True
        if evicted:
            _return_freed_memory()
        return [found[tuple(p)] for p in prefixes]

    def _logprobs(self, hidden: Any, q_ids: list[int]) -> Any:
        """log P(question token) from the hidden states (passages, question tokens, width)."""
        import torch
        import torch.nn.functional as F

        weight, bias = self.model.lm_head.weight, self.model.lm_head.bias
        target = torch.tensor(q_ids)
        out = np.zeros((hidden.shape[0], len(q_ids)), dtype=np.float32)
        step = max(1, HEAD_POSITIONS // len(q_ids))
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        for start in range(0, hidden.shape[0], step):
            # subtle: only the question positions need the 262k-word output layer; running it on
            # every position would cost more than the transformer itself.
            part = hidden[start : start + step]
            lse = torch.full(part.shape[:2], -torch.inf)
            picked = torch.zeros(part.shape[:2])
            # log P = logit - logsumexp(logits), the logsumexp gathered slice by slice of the vocabulary.
            for first in range(0, weight.shape[0], VOCAB_SLICE):
                last = first + VOCAB_SLICE
                logits = F.linear(part, weight[first:last], None if bias is None else bias[first:last]).float()
                if cap:
                    logits.div_(cap).tanh_().mul_(cap)
                lse = torch.logaddexp(lse, torch.logsumexp(logits, dim=-1))
                here = ((target >= first) & (target < last)).nonzero().flatten()
                if len(here):
                    picked[:, here] = logits[:, here, target[here] - first]
            out[start : start + step] = (picked - lse).numpy()
        return out


def _return_freed_memory() -> None:
    """Give the pages of evicted keys and values back to the system (glibc only; elsewhere a no-op)."""
    # subtle: a passage's tensors are ~100 KB each, below glibc's mmap threshold, so they live in
    # the heap; freed in LRU order they leave holes glibc keeps unless trimmed (EXPERIMENTS.md).
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _right_padded(rows: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    """Token rows as one batch (ids, attention mask), padded on the right: real positions keep
    their numbers."""
    import torch

    ids = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask


def load_reranker(
    model: str = "", *, cache_dir: Path | None = None, prefix_cache_mb: int = PREFIX_CACHE_MB
) -> Reranker:
    """A reranker shared by everything in this process that asks for the same model and memory;
    rerankers of the same model with different memories share its weights (loaded once)."""
    from .llm import TransformersLLM

    key = (model, str(cache_dir or ""), prefix_cache_mb)
    with _shared_lock:
        if key not in _shared:
            if key[:2] not in _shared_lms:
                _shared_lms[key[:2]] = TransformersLLM(model, cache_dir=cache_dir, chat=False)
            _shared[key] = Reranker(
                model, cache_dir=cache_dir, prefix_cache_mb=prefix_cache_mb, lm=_shared_lms[key[:2]]
            )
        return _shared[key]
