"""Does adapting the reranking LM to labelled questions help on documents it never saw? A low-rank
adapter (LoRA) on the question's tokens, trained on the public eval sets, measured on held-out documents.

The public eval sets' documents are dealt into `--folds` folds per set (sorted by doc_id, the i-th to
fold i mod folds); the adapter is trained on the questions of every fold but `--held-out`, and both the
model alone and the model with the adapter rerank the held-out fold's questions, whose documents
(passages and questions alike) were never seen in training.

Training is listwise on the reranker's own candidates (`retrieve.rerank_pool`, as in the pipeline):
for each question with at least one candidate holding its answer and one not, the loss is
-log sum_{answering} softmax_i(log P(question | passage_i)), the question's total log-probability
after each candidate, so the adapter learns to make the question likelier after the passages that
answer it than after the others. The passages are read by the model without the adapter (their keys
and values are those the reranker keeps), only the question's tokens by the adapted model. The
adapter adds scale * B A x (rank `--rank`, scale alpha / rank, B = 0 at the start) to the chosen
linear layers of every decoder layer. Measured and not kept in the pipeline (BENCHMARKS.md).

Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rerank_adapter.py --eval-dir ../shared/eval \\
    --json benchmarks/results/rerank-adapter.json
(~55 min on 2 cores: 2 x 820 training steps, 350 held-out questions reranked twice.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install

from eval_set import Pool, open_index, rerank_pools  # benchmarks/, the script's own folder

from rag.config import Config
from rag.evaluation import EVAL_CACHE, contains_answer, read_questions, retrieval_metrics
from rag.rerank import TEMPLATES, Reranker

SETS = ("piaf-fr", "squad-en")
# The decoder's linear layers the adapter may change, by the attribute that holds them.
TARGETS = {"self_attn": ("q_proj", "k_proj", "v_proj", "o_proj"), "mlp": ("gate_proj", "up_proj", "down_proj")}
ON = [False]  # whether the adapted layers add their update (only while the question's tokens are run)


@contextlib.contextmanager
def adapted() -> Iterator[None]:
    ON[0] = True
    try:
        yield
    finally:
        ON[0] = False


def attach(model: Any, *, rank: int, alpha: float, targets: set[str], seed: int) -> list[Any]:
    """Wrap the chosen linear layers of every decoder layer; returns the adapter's trainable tensors."""
    import torch
    import torch.nn.functional as F

    class Adapted(torch.nn.Module):
        def __init__(self, base: Any, gen: Any) -> None:
            super().__init__()
            self.base = base
            self.a = torch.nn.Parameter(torch.randn(rank, base.in_features, generator=gen) / base.in_features**0.5)
            self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))

        def forward(self, x: Any) -> Any:
            y = self.base(x)
            if ON[0]:
                y = y + (F.linear(F.linear(x.float(), self.a), self.b) * (alpha / rank)).to(y.dtype)
            return y

    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    params = []
    for layer in model.model.layers:
        for part, projections in TARGETS.items():
            for proj in projections:
                if proj.removesuffix("_proj") in targets:
                    wrapped = Adapted(getattr(getattr(layer, part), proj), gen)
                    setattr(getattr(layer, part), proj, wrapped)
                    params += [wrapped.a, wrapped.b]
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, required=True, help="holds piaf-fr/ and squad-en/")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=0, help="the fold not trained on")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16.0)
    parser.add_argument("--targets", default="q,k,v,o,gate,up,down", help="projections to adapt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="first n questions per set (a smoke run)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not 0 <= args.held_out < args.folds:
        parser.error(f"--held-out must be from 0 to {args.folds - 1}")
    import torch

    torch.manual_seed(args.seed)
    config = Config()
    pools: dict[str, list[Pool]] = {}
    held: dict[str, set[int]] = {}
    for name in SETS:
        corpus, questions_file = args.eval_dir / name / "corpus.jsonl", args.eval_dir / name / "questions.jsonl"
        rag = open_index(EVAL_CACHE, corpus, config)
        questions = read_questions(questions_file)[: args.limit or None]
        docs = sorted({q.doc_id for q in questions})
        fold = {d: i % args.folds for i, d in enumerate(docs)}
        pools[name] = list(rerank_pools(rag, questions))
        held[name] = {i for i, q in enumerate(questions) if fold[q.doc_id] == args.held_out}

    reranker = Reranker(config.rerank_model, prefix_cache_mb=8192)  # every passage read once, for both epochs
    params = attach(
        reranker.model, rank=args.rank, alpha=args.alpha, targets=set(args.targets.split(",")), seed=args.seed
    )

    def metrics(name: str, rows: set[int], with_adapter: bool) -> dict[str, float]:
        ranked, order = {}, sorted(rows)
        for i in tqdm(order, desc=f"{name} {'adapted' if with_adapter else 'model alone'}", file=sys.stderr):
            p = pools[name][i]
            scores = []
            if p.reranked:
                with torch.inference_mode():
                    scores = logprobs(reranker, p, with_adapter=with_adapter).mean(1).tolist()
            ranked[p.question.question] = p.rerank(scores, weight=config.rerank_weight)
        m = retrieval_metrics([pools[name][i].question for i in order], ranked.__getitem__)
        return {k: round(v, 4) for k, v in m.items() if k.startswith(("recall", "mrr", "doc_recall", "top5"))}

    results: dict[str, object] = {"args": {k: str(v) for k, v in vars(args).items()}}
    for name in SETS:
        results[f"{name} held-out, model alone"] = metrics(name, held[name], with_adapter=False)
        print(name, "model alone", results[f"{name} held-out, model alone"], flush=True)

    train = [
        p
        for name in SETS
        for i, p in enumerate(pools[name])
        if i not in held[name]
        and p.reranked
        and 0 < sum(contains_answer(h.chunk.text, p.question.answers) for h in p.hits) < len(p.hits)
    ]
    rng = random.Random(args.seed)
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    steps, step, start = args.epochs * len(train), 0, time.perf_counter()
    for epoch in range(args.epochs):
        rng.shuffle(train)
        total = 0.0
        for n, pool in enumerate(tqdm(train, desc=f"epoch {epoch + 1}", file=sys.stderr), 1):
            for group in optimizer.param_groups:  # 20 steps of warm-up, then a linear decay to 0
                group["lr"] = args.lr * min(1.0, (step + 1) / 20) * (1 - step / steps)
            loss = listwise_loss(reranker, pool)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            step += 1
            if n % 100 == 0:
                print(f"epoch {epoch + 1} step {n}/{len(train)} mean loss {total / n:.4f}", file=sys.stderr)
        results[f"epoch {epoch + 1} mean loss"] = round(total / len(train), 4)
    results["trained_questions"] = len(train)
    results["train_s"] = round(time.perf_counter() - start)
    for name in SETS:
        results[f"{name} held-out, adapted"] = metrics(name, held[name], with_adapter=True)
        print(name, "adapted", results[f"{name} held-out, adapted"], flush=True)
        results[f"{name} held-out questions"] = len(held[name])
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


def logprobs(reranker: Reranker, pool: Pool, *, with_adapter: bool) -> Any:
    """log P(question token | passage), (passages, question tokens): the passages' keys and values by
    the model alone (kept), the question's tokens with or without the adapter; differentiable. As
    `Reranker.token_logprobs` reads them, except that nothing is cut at `MAX_PASSAGE_TOKENS` /
    `MAX_QUESTION_TOKENS` and no passage is read whole past the sliding window: the public sets'
    ~650-character chunks and their questions are far shorter than either."""
    import torch

    head, tail = TEMPLATES[pool.lang]
    q_ids = reranker.tokenizer(tail.format(question=pool.question.question.strip()), add_special_tokens=False).input_ids
    prefixes = [reranker.tokenizer(head.format(title=t, text=x)).input_ids for t, x in pool.texts]
    with torch.no_grad():
        reranker._prefix_states(prefixes)
    with adapted() if with_adapter else contextlib.nullcontext():
        hidden = reranker._hidden_after_prefixes(prefixes, q_ids)
    logits = reranker.model.lm_head(hidden).float()
    cap = getattr(reranker.model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    target = torch.tensor(q_ids)[None, :, None].expand(len(prefixes), -1, 1)
    return torch.log_softmax(logits, dim=-1).gather(-1, target)[..., 0]


def listwise_loss(reranker: Reranker, pool: Pool) -> Any:
    """-log of the softmax mass, over the candidates, of those that hold the answer; the softmax is of
    the question's total log-probability after each candidate."""
    import torch

    total = logprobs(reranker, pool, with_adapter=True).sum(1)
    answering = torch.tensor([contains_answer(h.chunk.text, pool.question.answers) for h in pool.hits])
    return torch.logsumexp(total, 0) - torch.logsumexp(total[answering], 0)


if __name__ == "__main__":
    main()
