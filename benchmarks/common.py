"""What the calibration scripts (quote_choice.py, rerank_pool.py, ...) share: the command-line options
naming a public eval set, its index, built once into the eval harness's cache, the tuning/checking
splits, and a file to keep their slow part (retrieval, LM scores) in for the next run."""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path
from typing import Any

from rag.config import Config
from rag.evaluation import EVAL_CACHE, Question, cached_index_dir, read_questions
from rag.pipeline import RAG
from rag.records import Hit

K = 10  # the harness's depth (recall@10, MRR@10)


def add_eval_set_options(parser: argparse.ArgumentParser, *, every: int) -> None:
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--every", type=int, default=every, help="use every n-th question")
    parser.add_argument("--cache", type=Path, default=EVAL_CACHE)
    parser.add_argument("--json", type=Path)


def splits(n: int, every: int) -> dict[str, list[int]]:
    """Question positions to report on: all of them and, when every question is used (`every` 1),
    the third the choices were made on (every third from the first, the questions `--every 3`
    takes) and the other two thirds, which check those choices. Keys are label suffixes."""
    out = {"": list(range(n))}
    if every == 1:
        out[" [tuning third]"] = list(range(0, n, 3))
        out[" [other two thirds]"] = [i for i in range(n) if i % 3]
    return out


def record(results: dict[str, object], label: str, metrics: dict[str, Any]) -> None:
    """Keep and print one variant's metrics, without their latencies: the comparison scripts time
    nothing (each question is retrieved once for all variants)."""
    m = {k: v for k, v in metrics.items() if not k.endswith(("_ms_p50", "_ms_p95"))}
    results[label] = m
    print(f"{label}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items()))


def open_index(cache: Path, corpus: Path, config: Config) -> RAG:
    """The pipeline with `config` over the corpus's index in the eval harness's `cache`, built under
    `config`'s settings if missing."""
    rag = RAG(cached_index_dir(cache, corpus, config, "flat"), config=config)
    rag.index([corpus], on_progress=None)
    return rag


def open_eval_set(args: argparse.Namespace, config: Config | None = None) -> tuple[RAG, list[Question]]:
    """The pipeline (the default one unless `config`) over the corpus's cached index (built if
    missing) and every n-th question."""
    return open_index(args.cache, args.corpus, config or Config()), read_questions(args.questions)[:: args.every]


def kept_hits_from_command_line(
    description: str,
) -> tuple[argparse.Namespace, RAG, list[Question], dict[str, list[Hit]]]:
    """For the scripts that read the passages `quote_choice.py --hits-cache FILE` kept: the command
    line (the eval set's options and `--hits-cache`), the pipeline, the questions (every one, the
    splits being reported apart) and each question's kept passages for this corpus and index
    version (exits with advice when there are none: run quote_choice.py first)."""
    parser = argparse.ArgumentParser(description=description)
    add_eval_set_options(parser, every=1)
    parser.add_argument("--hits-cache", type=Path, required=True, help="the passages quote_choice.py kept")
    args = parser.parse_args()
    rag, questions = open_eval_set(args)
    cache: dict[str, list[Hit]] | None = read_cache(args.hits_cache, f"{args.corpus.resolve()} {rag.current().version}")
    if cache is None:
        raise SystemExit(f"{args.hits_cache} holds no passages of this index: run quote_choice.py --hits-cache first")
    return args, rag, questions, cache


def read_cache(path: Path | None, key: object) -> Any:
    """What `write_cache` kept in `path` under this same `key` (name the corpus, the questions and the
    index version in it), else None."""
    if path is None or not path.exists():
        return None
    kept = pickle.loads(path.read_bytes())  # noqa: S301 - a file these scripts wrote
    return kept["value"] if kept.get("key") == key else None


def write_cache(path: Path | None, key: object, value: object) -> None:
    if path is not None:
        path.write_bytes(pickle.dumps({"key": key, "value": value}))
