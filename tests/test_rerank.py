"""Reranking by query likelihood: the mixing arithmetic, then the real bundled Gemma model."""

from __future__ import annotations

import math

import pytest

from rag.evaluation import read_questions, retrieval_metrics
from rag.records import Chunk, Hit

from .conftest import DATA, ROOT


def _hits(n):
    return [Hit(chunk=Chunk(f"d#{i}", "d", "t", f"text {i}", 0, 1), score=float(n - i), rank=i + 1) for i in range(n)]


def test_rerank_weights_and_renumbering():
    from rag.search.rerank import rerank

    hits = _hits(4)
    lm = [0.0, 1.0, 3.0, 2.0]  # the LM prefers hit 2, then 3
    assert [h.chunk.chunk_id for h in rerank(hits, lm, weight=1.0, k=4)] == ["d#2", "d#3", "d#1", "d#0"]
    assert [h.chunk.chunk_id for h in rerank(hits, lm, weight=0.0, k=4)] == ["d#0", "d#1", "d#2", "d#3"]
    top = rerank(hits, lm, weight=0.7, k=2)
    assert [h.rank for h in top] == [1, 2]
    assert top[0].score >= top[1].score
    assert top[0].rerank_score == 3.0 and top[0].retrieval_score == 2.0
    assert top[0].rerank_gain is None  # no score after an empty passage given
    # With the question's score after an empty passage, each hit gets what its passage adds to it.
    assert [h.rerank_gain for h in rerank(hits, lm, weight=0.7, k=4, null=0.5)] == [2.5, 1.5, 0.5, -0.5]
    # Equal LM scores leave the retrieval order alone.
    assert [h.chunk.chunk_id for h in rerank(hits, [1.0] * 4, weight=0.7, k=4)] == ["d#0", "d#1", "d#2", "d#3"]
    with pytest.raises(ValueError, match="3 scores for 4 hits"):
        rerank(hits, [1.0, 2.0, 3.0], weight=0.7, k=4)


@pytest.fixture(scope="session")
def reranker():
    from rag.models.lm_scoring import load_reranker

    return load_reranker()


@pytest.mark.parametrize(
    "lang,question,relevant,other",
    [
        (
            "fr",
            "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?",
            "Google aurait payé 2,7 milliards de dollars pour ramener Noam Shazeer, fondateur de Character.ai.",
            "Databricks a levé 10 milliards de dollars lors de son dernier tour de table.",
        ),
        (
            "en",
            "What is the capital of Australia?",
            "Canberra has been the capital of Australia since 1913, chosen as a compromise.",
            "The Great Barrier Reef is the largest coral reef system in the world.",
        ),
    ],
)
def test_the_real_model_prefers_the_passage_that_answers(reranker, lang, question, relevant, other):
    s = reranker.scores(question, [("Article", other), ("Article", relevant)], lang=lang)
    assert len(s) == 2 and all(math.isfinite(x) and x < 0 for x in s)
    assert s[1] > s[0], s


def test_scores_do_not_depend_on_batch_padding(reranker):
    q = "Qui a fondé Character.ai ?"
    short = ("Article", "Noam Shazeer a fondé Character.ai.")
    long = ("Article", "Une longue phrase sur un autre sujet. " * 30)
    alone = reranker.scores(q, [short], lang="fr")[0]
    padded = reranker.scores(q, [long, short], lang="fr")[1]
    assert padded == pytest.approx(alone, abs=0.05)  # bf16 arithmetic, not the padding


def test_token_logprobs_are_what_the_score_averages(reranker):
    """One row per passage, one column per question token; the score is the row's mean, and the
    passage that answers makes the question's rare words more probable than the one that does not."""
    q = "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?"
    passages = [
        ("Article", "Databricks a levé 10 milliards de dollars lors de son dernier tour de table."),
        ("Article", "Google aurait payé 2,7 milliards de dollars pour ramener Noam Shazeer."),
    ]
    lp = reranker.token_logprobs(q, passages, lang="fr")
    n_tokens = len(reranker.tokenizer(" " + q, add_special_tokens=False).input_ids)
    assert lp.shape == (2, n_tokens) and (lp <= 0).all()
    assert reranker.scores(q, passages, lang="fr") == pytest.approx(list(lp.mean(axis=1)), abs=1e-6)
    assert lp[1].sum() > lp[0].sum()
    assert reranker.token_logprobs(q, [], lang="fr").shape == (0, 0)


def test_log_probabilities_are_those_of_the_whole_vocabulary(reranker):
    """The output layer runs slice by slice of the vocabulary (`VOCAB_SLICE`): the result is the
    log-softmax over all of it, whichever slice each question token falls in."""
    import torch

    from rag.models.lm_scoring import VOCAB_SLICE

    vocab = reranker.model.lm_head.weight.shape[0]
    q_ids = reranker.tokenizer(" Qui a fondé Character.ai ?", add_special_tokens=False).input_ids
    q_ids += [vocab - 1, VOCAB_SLICE, VOCAB_SLICE - 1]  # the last word, and either side of a slice's edge
    texts = ["Noam Shazeer a fondé Character.ai en 2021, après Google.", "Le castor construit des barrages."]
    ids = reranker.tokenizer(texts, return_tensors="pt", padding=True).input_ids
    with torch.inference_mode():
        hidden = reranker.model.model(input_ids=ids).last_hidden_state[:, : len(q_ids)]
        whole = torch.log_softmax(reranker.model.lm_head(hidden).float(), dim=-1)
        expected = whole[:, torch.arange(len(q_ids)), torch.tensor(q_ids)].numpy()
        got = reranker._logprobs(hidden, q_ids)
    assert got.shape == (2, len(q_ids))
    assert got == pytest.approx(expected, abs=1e-4)


def test_overlong_passages_and_empty_input(reranker):
    assert reranker.scores("Question ?", [], lang="fr") == []
    (s,) = reranker.scores("Qui ?", [("T", "mot " * 3000)], lang="fr")
    assert math.isfinite(s)


def test_search_reranks_only_hybrid(seed_rag):
    hits = seed_rag.search("Combien Google a-t-il payé pour faire revenir Noam Shazeer ?", k=3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(h.rerank_score is not None and h.retrieval_score is not None for h in hits)
    assert "2,7 milliards" in hits[0].chunk.text
    assert all(h.rerank_score is None for h in seed_rag.search("Noam Shazeer", k=3, mode="lexical"))


def test_search_reports_what_each_passage_adds_to_the_question(seed_rag, reranker):
    """`rerank_gain`: the LM score less the question's score after an empty passage, read in the
    same batch as the passages; the passage that answers raises the question's likelihood."""
    question = "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?"
    hits = seed_rag.search(question, k=5)
    (null,) = reranker.scores(question, [("", "")], lang="fr")
    for h in hits:
        assert h.rerank_score is not None and h.rerank_gain is not None
        assert h.rerank_score - h.rerank_gain == pytest.approx(null, abs=1e-3)
    assert hits[0].rerank_gain > 0


def test_reranking_lifts_the_ranking_on_the_french_subset(piaf_rag):
    """The reason reranking is on by default: measured here on 100 PIAF questions (and on the
    full public sets in BENCHMARKS.md), it ranks the answer higher than hybrid retrieval alone."""
    from rag.pipeline import RAG

    questions = read_questions(DATA / "piaf-fr" / "questions.jsonl")
    plain = RAG(piaf_rag.index_dir, config=piaf_rag.config.with_(rerank=False), embedder=piaf_rag.embedder)
    before = retrieval_metrics(questions, lambda q: plain.search(q, k=10))
    after = retrieval_metrics(questions, lambda q: piaf_rag.search(q, k=10))
    assert after["mrr@10"] >= before["mrr@10"] + 0.02, (before, after)
    assert after["recall@5"] >= before["recall@5"] - 0.01, (before, after)


def test_kept_passages_score_as_when_read_with_their_question(reranker, monkeypatch):
    """A passage's keys and values are kept and reused: the scores match reading each passage with
    its question (the path for passages past the sliding window), and a kept passage scores the same
    on its next question."""
    passages = [
        ("Article", "Noam Shazeer a fondé Character.ai en 2021."),
        ("Databricks", "Databricks a levé 10 milliards de dollars. " * 6),
        ("Autre", "Le castor construit des barrages sur les rivières d'Europe."),
    ]
    questions = ["Qui a fondé Character.ai ?", "Combien Databricks a-t-il levé ?", "Qui ?"]
    monkeypatch.setattr(reranker, "_prefixes", type(reranker._prefixes)())
    monkeypatch.setattr(reranker, "_prefix_bytes", 0)
    kept = [reranker.token_logprobs(q, passages, lang="fr") for q in questions]
    again = [reranker.token_logprobs(q, passages[::-1], lang="fr")[::-1] for q in questions]
    assert len(reranker._prefixes) == len(passages)
    from rag.models.lm_scoring import load_reranker

    reads_whole = load_reranker(prefix_cache_mb=0)  # every passage read with its question
    assert reads_whole is not reranker and reads_whole.model is reranker.model  # the weights loaded once
    whole = [reads_whole.token_logprobs(q, passages, lang="fr") for q in questions]
    assert not reads_whole._prefixes
    for k, a, w in zip(kept, again, whole, strict=True):
        assert k.shape == w.shape and (k == a).all()
        assert k.mean(axis=1) == pytest.approx(w.mean(axis=1), abs=0.05)  # bf16 arithmetic
    assert [k.mean(axis=1).argmax() for k in kept[:2]] == [0, 1]  # each passage wins its question


def test_kept_passages_stay_within_their_memory(reranker, monkeypatch):
    one = ("Article", "Noam Shazeer a fondé Character.ai en 2021.")
    monkeypatch.setattr(reranker, "_prefixes", type(reranker._prefixes)())
    monkeypatch.setattr(reranker, "_prefix_bytes", 0)
    reranker.scores("Qui ?", [one], lang="fr")
    size = reranker._prefix_bytes
    monkeypatch.setattr(reranker, "_prefix_budget", 2 * size)
    from rag.models import lm_scoring as rerank

    released = []
    real = rerank._return_freed_memory
    monkeypatch.setattr(rerank, "_return_freed_memory", lambda: released.append(real()))
    texts = [("Article", f"Phrase numéro {i} sur un sujet.") for i in range(6)]
    scores = reranker.scores("Quel numéro ?", texts, lang="fr")
    assert len(scores) == 6 and reranker._prefix_bytes <= 2 * size and len(reranker._prefixes) <= 2
    assert reranker._prefixes  # the least recently used go, not all of them
    assert released == [None]  # the evicted passages' memory is handed back once per call


@pytest.mark.parametrize(("given", "expected"), [(None, "128"), ("7", "7")])
def test_importing_rag_caps_onednn_kernel_memory_unless_told_otherwise(given, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    if given is not None:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = given
    code = "import os, rag; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
