"""What a close call (`Answer.close_passages`) tells a reader: on the passages `quote_choice.py
--hits-cache FILE` kept (run it first, with the same corpus and questions), each answerable question
is answered by the shipped extractive rule with the default gate, and its answer is a close call
when a passage it does not cite scored within a margin of the cited one (`Tuned.close_call_margin`).

For each margin, on the tuning third and the other two thirds (`eval_set.splits`):
- `flagged`: the share of answers that are close calls;
- `right_flagged` / `right_clear`: the share of those answers, and of the others, whose cited
  passages all hold a gold answer (what the flag warns about is the difference);
- `shown`: the close passages shown per flagged answer;
- `rescued`: of the flagged answers whose citations miss the answer, the share where a close
  passage holds it (the reader who looks at it finds the answer).
The quotes are chosen by the quote score alone (no LM ordering), as the margin was chosen.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/close_calls.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl --hits-cache hits.pkl [--json out.json]
"""

from __future__ import annotations

import json

import numpy as np
from common import kept_hits_from_command_line, record, splits

from rag.answer.close_calls import close_passages
from rag.answer.extractive import answer_question
from rag.evaluation import contains_answer
from rag.query import read_query

MARGINS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def main() -> None:
    args, rag, questions, cache = kept_hits_from_command_line(__doc__.split("\n\n")[0])
    idx = rag.current()
    answers = []
    for q in questions:
        hits = cache[q.question]
        a = answer_question(
            read_query(q.question), hits, idx, rag.embedder, rag.config, threshold=rag.config.min_support
        )
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
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
