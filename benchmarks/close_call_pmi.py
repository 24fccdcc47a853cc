"""Could a second look settle close calls? On the passages `quote_choice.py --hits-cache FILE` kept
(run it first, with the same corpus and questions), each answer that is a close call
(`Answer.close_passages`) has its cited passage and its close passages scored the other way round
from the reranker: how much the question raises the likelihood of the passage's own tokens under the
reranking LM (pointwise mutual information, log P(passage | question) - log P(passage), summed or
averaged over the passage's tokens). Counted: how many close calls each rule settles on a passage
holding a gold answer, against the shipped choice (the cited passage) and the reranked order.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/close_call_pmi.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl --hits-cache hits.pkl [--json out.json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import kept_hits_from_command_line, splits  # benchmarks/

from rag.answer import answer_question, close_passages
from rag.evaluation import contains_answer
from rag.lang import detect_lang
from rag.rerank import Reranker

QUESTION_FIRST = {
    "fr": "Question : {question}\nPassage qui y répond :\n",
    "en": "Question: {question}\nA passage that answers it:\n",
}
NO_QUESTION = {"fr": "Passage :\n", "en": "Passage:\n"}
MAX_PASSAGE_TOKENS = 400


def passage_logprobs(reranker: Reranker, prefix: str, passage: str) -> Any:
    """log P(each token of `passage` | `prefix` and the passage before it) under the reranking LM."""
    import torch

    tok, model = reranker.tokenizer, reranker.model
    p = tok(prefix, add_special_tokens=True).input_ids
    t = tok(passage, add_special_tokens=False).input_ids[:MAX_PASSAGE_TOKENS]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([p + t])).logits[0, len(p) - 1 : len(p) - 1 + len(t)].float()
        return torch.log_softmax(logits, -1)[torch.arange(len(t)), torch.tensor(t)].numpy()


def main() -> None:
    args, rag, questions, cache = kept_hits_from_command_line(__doc__.split("\n\n")[0])
    idx, reranker = rag.current(), rag.reranker
    rows = []  # (question position, holds a gold answer per candidate, features per candidate)
    started = time.perf_counter()
    for i, q in enumerate(questions):
        hits = cache[q.question]
        a = answer_question(q.question, hits, idx, rag.embedder, threshold=rag.config.min_support)
        close = close_passages(a.citations, a.passages)
        if not (a.answered and close):
            continue
        by_id = {h.chunk.chunk_id: h for h in hits}
        cited = max({c.chunk_id for c in a.citations}, key=lambda c: by_id[c].score)
        lang = detect_lang(q.question)
        features = []
        for chunk_id in (cited, *close):
            h = by_id[chunk_id]
            text = f"{h.chunk.title}\n{h.chunk.text}"
            gain = passage_logprobs(reranker, QUESTION_FIRST[lang].format(question=q.question), text)
            gain = gain - passage_logprobs(reranker, NO_QUESTION[lang], text)
            features.append({"pmi sum": float(gain.sum()), "pmi mean": float(gain.mean()), "reranked order": h.score})
        holds = [contains_answer(by_id[c].chunk.text, q.answers) for c in (cited, *close)]
        rows.append((i, holds, features))
    seconds = time.perf_counter() - started
    results: dict[str, object] = {"corpus": str(args.corpus), "close calls": len(rows), "seconds": seconds}
    for split, positions in splits(len(questions), args.every).items():
        kept = set(positions)
        part = [r for r in rows if r[0] in kept]
        settled = {"cited (shipped)": sum(h[0] for _, h, _ in part), "any holds it": sum(any(h) for _, h, _ in part)}
        for rule in ("pmi sum", "pmi mean", "reranked order"):
            settled[rule] = sum(h[int(np.argmax([f[rule] for f in fs]))] for _, h, fs in part)
        results[f"close calls{split}"] = {"questions": len(part), **settled}
        print(f"close calls{split}: {len(part)}, " + ", ".join(f"{k} {v}" for k, v in settled.items()))
    print(f"{seconds:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
