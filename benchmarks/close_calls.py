"""What a close call (`Answer.close_passages`) tells a reader: on the passages `quote_choice.py
--hits-cache FILE` kept (run it first, with the same corpus and questions), each answerable question
is answered by the shipped extractive rule with the default gate, and its answer is a close call
when a passage it does not cite scored within `answer.CLOSE_CALL_MARGIN` of the cited one.

For each margin, on the tuning third and the other two thirds (`eval_set.splits`):
- `flagged`: the share of answers that are close calls;
- `right_flagged` / `right_clear`: the share of those answers, and of the others, whose cited
  passages all hold a gold answer (what the flag warns about is the difference);
- `shown`: the close passages shown per flagged answer;
- `rescued`: of the flagged answers whose citations miss the answer, the share where a close
  passage holds it (the reader who looks at it finds the answer).

And at the shipped margin, hit rate and citation precision as shipped and if a close call quoted
the best sentence of its first close passage too (an answer from two passages; not shipped).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/close_calls.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl --hits-cache hits.pkl [--json out.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import kept_hits_from_command_line, record, splits  # benchmarks/

from rag.answer import answer_question, close_passages
from rag.evaluation import contains_answer

MARGINS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def quoting_close_too(rag: Any, idx: Any, answers: list[Any], rows: list[int]) -> dict[str, float]:
    """Hit rate and citation precision over the questions at `rows`, as shipped and when a close
    call also quotes the best sentence of its first close passage (one citation more)."""
    hits = {"shipped": 0, "close too": 0}
    cited = {"shipped": 0, "close too": 0}
    precise = {"shipped": 0, "close too": 0}
    for i in rows:
        q, a, texts, _ = answers[i]
        if not a.answered:
            continue
        ok = sum(contains_answer(texts[c.chunk_id], q.answers) for c in a.citations)
        for variant in hits:
            hits[variant] += contains_answer(a.text, q.answers)
            cited[variant] += len(a.citations)
            precise[variant] += ok
        close = close_passages(a.citations, a.passages)
        if not close:
            continue
        first = next(h for h in a.passages if h.chunk.chunk_id == close[0])
        extra = answer_question(q.question, [first], idx, rag.embedder, threshold=0.0)
        if not extra.citations:
            continue
        quote = extra.citations[0].quote
        hits["close too"] += contains_answer(f"{a.text} {quote}", q.answers) - contains_answer(a.text, q.answers)
        cited["close too"] += 1
        precise["close too"] += contains_answer(texts[close[0]], q.answers)
    out: dict[str, float] = {}
    for variant in hits:
        out[f"hit_rate {variant}"] = hits[variant] / len(rows)
        out[f"citation_precision {variant}"] = precise[variant] / max(1, cited[variant])
    return out


def main() -> None:
    args, rag, questions, cache = kept_hits_from_command_line(__doc__.split("\n\n")[0])
    idx = rag.current()
    answers = []
    for q in questions:
        hits = cache[q.question]
        a = answer_question(q.question, hits, idx, rag.embedder, threshold=rag.config.min_support)
        texts = {h.chunk.chunk_id: h.chunk.text for h in hits}
        ok = bool(a.citations) and all(contains_answer(texts[c.chunk_id], q.answers) for c in a.citations)
        answers.append((q, a, texts, ok))
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions)}
    for split, rows in splits(len(questions), args.every).items():
        answered = [answers[i] for i in rows if answers[i][1].answered and answers[i][1].citations]
        right = np.array([r for *_, r in answered])
        for margin in MARGINS:
            close = [close_passages(a.citations, a.passages, margin) for _, a, _, _ in answered]
            flagged = np.array([bool(c) for c in close])
            rescued = [
                any(contains_answer(texts[c], q.answers) for c in cl)
                for (q, _, texts, r), cl in zip(answered, close, strict=True)
                if cl and not r
            ]
            row = {
                "answers": len(answered),
                "flagged": float(flagged.mean()),
                "right_flagged": float(right[flagged].mean()) if flagged.any() else float("nan"),
                "right_clear": float(right[~flagged].mean()) if (~flagged).any() else float("nan"),
                "shown": float(np.mean([len(c) for c in close if c])) if flagged.any() else 0.0,
                "wrong_flagged": len(rescued),
                "wrong": int((~right).sum()),
                "rescued": float(np.mean(rescued)) if rescued else float("nan"),
            }
            record(results, f"margin {margin}{split}", row)
        record(results, f"quoting the first close passage too{split}", quoting_close_too(rag, idx, answers, rows))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
