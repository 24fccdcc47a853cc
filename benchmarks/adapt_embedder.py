"""Would adapting the embedder to the corpus lift first-stage recall? An experiment, not a feature.

MiniLM is an English model and weak on French passages (dense recall@5 0.663 on piaf-fr), which caps
what fusion and reranking can reach. This fine-tunes it on the indexed corpus alone, with no
question and no answer: the inverse cloze task (Lee et al. 2019), where a sentence of a passage is
the pseudo-query and the passage (the sentence removed most of the time, so words must be matched
by meaning, not copied) is its positive, with the other passages of the batch as negatives
(multiple-negatives ranking loss). Then dense, hybrid and the reranker's candidate pool
(BM25 10 + dense 5) are measured with the stock and the adapted model on the same questions.

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/adapt_embedder.py --corpus ../shared/eval/piaf-fr/corpus.jsonl \\
    --questions ../shared/eval/piaf-fr/questions.jsonl [--epochs 1] [--every 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import add_eval_set_options, record, splits  # benchmarks/, the script's own folder

from rag.chunking import split_sentences
from rag.config import DEFAULT_MODEL, Config
from rag.embed import resolve_model
from rag.evaluation import Question, contains_answer, read_questions, retrieval_metrics
from rag.index import retrieval_text
from rag.pipeline import RAG
from rag.retrieve import rerank_pool, search

K = 10


def ict_pairs(rag: RAG, *, per_chunk: int, keep_rate: float, seed: int) -> list[tuple[str, str]]:
    """(pseudo-query, passage) pairs: up to `per_chunk` sentences of at least 5 words from each
    chunk, the passage keeping the sentence with probability `keep_rate`."""
    rng = random.Random(seed)
    idx = rag.current()
    pairs = []
    for c in idx.chunks:
        sentences = split_sentences(c.text)
        if len(sentences) < 2:
            continue
        spans = [(s, e) for s, e in sentences if len(c.text[s:e].split()) >= 5]
        for s, e in rng.sample(spans, min(per_chunk, len(spans))):
            rest = c.text if rng.random() < keep_rate else (c.text[:s] + c.text[e:]).strip()
            pairs.append((c.text[s:e], retrieval_text(c.title, rest, True)))
    rng.shuffle(pairs)
    return pairs


def fine_tune(pairs: list[tuple[str, str]], out: Path, *, epochs: int, batch: int, lr: float) -> float:
    """Multiple-negatives ranking loss over in-batch negatives; returns seconds spent."""
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(resolve_model(DEFAULT_MODEL), device="cpu")
    model.train()
    steps = epochs * (len(pairs) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / max(1, steps // 10)) * max(0.0, 1 - i / steps)
    )
    t = time.perf_counter()
    bar = tqdm(total=steps, desc="fine-tuning", file=sys.stderr)
    for _ in range(epochs):
        for i in range(0, len(pairs) - batch + 1, batch):
            qs, ps = zip(*pairs[i : i + batch], strict=True)
            q = model(model.tokenize(list(qs)))["sentence_embedding"]
            p = model(model.tokenize(list(ps)))["sentence_embedding"]
            sim = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(p, dim=-1).T * 20.0
            loss = torch.nn.functional.cross_entropy(sim, torch.arange(len(qs)))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    model.save(str(out))
    return time.perf_counter() - t


def measure(
    rag: RAG,
    questions: list[Question],
    label: str,
    results: dict[str, object],
    parts: dict[str, list[int]],
    dense_weights: list[float],
) -> None:
    idx, config = rag.current(), rag.config
    runs = {
        "dense": {
            q.question: search(idx, rag.embedder, q.question, k=K, config=config, mode="dense") for q in questions
        }
    }
    for w in [config.dense_weight, *dense_weights]:
        c = config.with_(dense_weight=w)
        name = "hybrid" if w == config.dense_weight else f"hybrid, dense weight {w}"
        runs[name] = {q.question: search(idx, rag.embedder, q.question, k=K, config=c) for q in questions}
    pool = {q.question: rerank_pool(idx, rag.embedder, q.question, k=K, config=config) for q in questions}
    for split, rows in parts.items():
        for mode, ranked in runs.items():
            record(
                results, f"{label}, {mode}{split}", retrieval_metrics([questions[i] for i in rows], ranked.__getitem__)
            )
        sub = [questions[i] for i in rows]
        recall = sum(any(contains_answer(h.chunk.text, q.answers) for h in pool[q.question]) for q in sub)
        sizes = [len(pool[q.question]) for q in sub]
        record(
            results,
            f"{label}, rerank pool{split}",
            {"pool_recall": recall / max(1, len(sub)), "pool_size": sum(sizes) / max(1, len(sub))},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_eval_set_options(parser, every=1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--per-chunk", type=int, default=3, help="pseudo-queries per chunk")
    parser.add_argument("--keep-rate", type=float, default=0.1, help="how often the passage keeps its sentence")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--model-out", type=Path, help="keep the adapted model here (default: a temporary folder)")
    parser.add_argument("--adapted", type=Path, help="measure this adapted model instead of training one")
    parser.add_argument("--dense-weights", type=float, nargs="*", default=[], help="also fuse at these dense weights")
    args = parser.parse_args()
    questions = read_questions(args.questions)[:: args.every]
    parts = splits(len(questions), args.every)
    results: dict[str, object] = {"corpus": str(args.corpus), "questions": len(questions), "every": args.every}
    with tempfile.TemporaryDirectory() as tmp:
        base = Config(embedding_backend="torch", rerank=False)
        stock = RAG(Path(tmp) / "stock", config=base)
        stock.index([args.corpus], on_progress=None)
        measure(stock, questions, "stock MiniLM", results, parts, args.dense_weights)
        out = args.adapted or args.model_out or Path(tmp) / "adapted"
        if not args.adapted:
            pairs = ict_pairs(stock, per_chunk=args.per_chunk, keep_rate=args.keep_rate, seed=0)
            seconds = fine_tune(pairs, out, epochs=args.epochs, batch=args.batch, lr=args.lr)
            results["training"] = {
                "pairs": len(pairs),
                "chunks": len(stock.current().chunks),
                "seconds": seconds,
                **{k: getattr(args, k) for k in ("epochs", "per_chunk", "keep_rate", "batch", "lr")},
            }
            print(f"trained on {len(pairs)} pairs in {seconds:.0f} s")
        adapted = RAG(Path(tmp) / "adapted-index", config=base.with_(embedding_model=str(out)))
        adapted.index([args.corpus], on_progress=None)
        measure(adapted, questions, "adapted MiniLM", results, parts, args.dense_weights)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
