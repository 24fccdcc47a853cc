"""How far refusing more would lift citation precision: the answerable questions answered in order of
a confidence signal, and the hit rate and citation precision of the answers kept at each share
answered (a risk-coverage curve), on the passages `quote_choice.py --hits-cache FILE` kept (run it
first, with the same corpus and questions).

Signals, each known before answering:
- `gate`: what the answerability gate compares with `min_support` (`answer.question_gate`);
- `margin`: the reranked score of the first passage less the second's (how sure the order is);
- `lm gain`: how much the first passage raises the question's likelihood under the reranking LM;
- `gate + margin`: the mean of the two ranks (no weight to fit).

Every question is answered by the shipped rule with the gate open (`threshold=0`) and counted as the
harness counts (`evaluation.AnswerTally`): hit rate over all the questions (a refused one is no
hit), citation precision over the citations of the answers kept. The share answered is the issue's
constraint (>= 0.90); at each share the kept answers are the questions whose signal is highest.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/selective.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl --hits-cache hits.pkl [--json out.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import kept_hits_from_command_line  # benchmarks/

from rag.answer import answer_question, question_gate, select_evidence, support
from rag.evaluation import contains_answer
from rag.lang import detect_lang

SHARES = (1.0, 0.98, 0.95, 0.9, 0.85, 0.8, 0.7)


def ranks(values: np.ndarray) -> np.ndarray:
    """0-1 rank of each value (ties share the mean rank)."""
    order = values.argsort(kind="stable")
    r = np.empty(len(values))
    r[order] = np.arange(len(values))
    for v in np.unique(values):
        same = values == v
        r[same] = r[same].mean()
    return r / max(1, len(values) - 1)


def auc(signal: np.ndarray, good: np.ndarray) -> float:
    """ROC AUC of `signal` telling good answers (True) from bad ones (Mann-Whitney)."""
    pos, neg = good.sum(), (~good).sum()
    if not pos or not neg:
        return float("nan")
    r = ranks(signal) * (len(signal) - 1) + 1
    return float((r[good].sum() - pos * (pos + 1) / 2) / (pos * neg))


def main() -> None:
    args, rag, questions, cache = kept_hits_from_command_line(__doc__.split("\n\n")[0])
    idx = rag.current()
    gate, margin, gain, hit, cited, precise = [], [], [], [], [], []
    for q in questions:
        hits = cache[q.question]
        lang = detect_lang(q.question)
        evidence = select_evidence(q.question, hits, idx, rag.embedder, lang)
        a = answer_question(q.question, hits, idx, rag.embedder, threshold=0.0)
        passages = {h.chunk.chunk_id: h.chunk.text for h in hits}
        gate.append(question_gate(support(evidence[0]), hits, idx, lang) if evidence else 0.0)
        scores = sorted((h.score for h in hits), reverse=True)
        margin.append(scores[0] - scores[1] if len(scores) > 1 else 0.0)
        gain.append(hits[0].rerank_gain if hits and hits[0].rerank_gain is not None else 0.0)
        hit.append(a.answered and contains_answer(a.text, q.answers))
        cited.append(len(a.citations))
        precise.append(sum(contains_answer(passages.get(c.chunk_id, c.quote), q.answers) for c in a.citations))
    n_cited, n_precise = np.array(cited), np.array(precise)
    signals = {"gate": np.array(gate), "margin": np.array(margin), "lm gain": np.array(gain)}
    signals["gate + margin"] = ranks(signals["gate"]) + ranks(signals["margin"])
    # An answer is good when its citations are all precise (the quoted passage holds the answer).
    good = (n_cited > 0) & (n_precise == n_cited)
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions)}
    for name, signal in signals.items():
        order = np.argsort(-signal, kind="stable")
        curve = {}
        for share in SHARES:
            kept = order[: round(share * len(questions))]
            curve[str(share)] = {
                "hit_rate": float(np.array(hit)[kept].sum() / len(questions)),
                "citation_precision": float(n_precise[kept].sum() / max(1, n_cited[kept].sum())),
            }
        results[name] = {"auc_precise_answer": auc(signal, good), "answered": curve}
        print(
            name, f"AUC {auc(signal, good):.3f}", {s: tuple(round(v, 3) for v in c.values()) for s, c in curve.items()}
        )
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
