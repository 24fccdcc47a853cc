"""Command-line options shared by several commands, their validation, and the `Config` fields they
set. Reads environment variables for defaults (this and `app.py` are the only places that do)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from ..config import ANSWERERS, EMBEDDING_BACKENDS, LLM_ENGINES, Config


def _checked(convert: Callable[[str], Any], ok: Callable[[Any], bool], problem: str) -> Callable[[str], Any]:
    """An argparse type: `convert` the text, and refuse it unless `ok`, with `problem` (formatted
    with the text as `{text!r}`) as the message."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(problem.format(text=text))
        return value

    return parse


positive_int = _checked(int, lambda n: n >= 1, "{text!r} is not a positive whole number")
port_number = _checked(int, lambda n: 1 <= n <= 65535, "{text!r} is not a port number (1-65535)")
_chunk_size = _checked(
    int, lambda n: 100 <= n <= 20_000, "{text!r} is not a chunk size in characters (a whole number, 100-20000)"
)
_megabytes = _checked(
    int,
    lambda n: n >= 0,
    "{text!r} is not a whole number of megabytes; give --rerank-cache-mb (or $RAG_RERANK_CACHE_MB) "
    f"one, 0 or more, such as the default {Config.rerank_cache_mb}",
)
_share = _checked(
    float,
    lambda x: 0.0 <= x <= 1.0,
    "{text!r} is not a number between 0 and 1; give --min-support (or $RAG_MIN_SUPPORT) one, "
    f"such as the default {Config.min_support}",
)


def backend_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--embedding-backend",
        choices=EMBEDDING_BACKENDS,
        default=os.environ.get("RAG_EMBEDDING_BACKEND", Config.embedding_backend),
        help="how the embedding model runs (default auto: OpenVINO, else onnxruntime, else torch; "
        "or $RAG_EMBEDDING_BACKEND)",
    )


def chunk_option(sp: argparse.ArgumentParser, default: str) -> None:
    sp.add_argument(
        "--chunk-chars",
        type=_chunk_size,
        default=None,
        metavar="N",
        help=f"target chunk size in characters (each chunk also fits the embedding model; {default})",
    )


def rerank_options(sp: argparse.ArgumentParser) -> None:
    env = os.environ.get
    sp.add_argument(
        "--rerank",
        action=argparse.BooleanOptionalAction,
        default=env("RAG_RERANK", "1").lower() not in ("0", "false", "no", "off"),
        help="rerank the hybrid results with a small language model (default on; ~1.5 s per question "
        "on 2 cores; or $RAG_RERANK=0)",
    )
    sp.add_argument(
        "--rerank-model",
        default=env("RAG_RERANK_MODEL", ""),
        help="reranking LM: HF id, folder or .gguf (default: the bundled Gemma)",
    )
    sp.add_argument(
        "--rerank-cache-mb",
        type=_megabytes,
        default=env("RAG_RERANK_CACHE_MB", str(Config.rerank_cache_mb)),
        metavar="MB",
        help="memory for the passages the reranker has read (faster on passages seen before; "
        f"0 keeps none; default {Config.rerank_cache_mb}, or $RAG_RERANK_CACHE_MB)",
    )


def rerank_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {"rerank": args.rerank, "rerank_model": args.rerank_model, "rerank_cache_mb": args.rerank_cache_mb}


def answer_options(sp: argparse.ArgumentParser) -> None:
    """Options choosing and configuring the answerer (shared by ask, chat and eval), reranking included."""
    rerank_options(sp)
    env = os.environ.get
    sp.add_argument(
        "--answerer",
        choices=ANSWERERS,
        default=env("RAG_ANSWERER", Config.answerer),
        help="who writes the answer (default extractive, or $RAG_ANSWERER)",
    )
    sp.add_argument(
        "--llm-model", default=env("RAG_LLM_MODEL", ""), help="local LLM: HF id, folder or .gguf (default: Gemma)"
    )
    sp.add_argument(
        "--llm-engine",
        choices=LLM_ENGINES,
        default="auto",
        help="how the local LLM runs (default auto: llama.cpp when installed and the model is a .gguf, "
        "else transformers)",
    )
    sp.add_argument("--llm-threads", type=int, default=0, help="llama.cpp threads (default: all cores)")
    sp.add_argument(
        "--openai-base-url",
        default=env("RAG_OPENAI_BASE_URL", os.environ.get("OPENAI_BASE_URL") or Config.openai_base_url),
        help=f"OpenAI-compatible server for --answerer openai (default $RAG_OPENAI_BASE_URL, else "
        f"$OPENAI_BASE_URL, else {Config.openai_base_url}; key from $RAG_OPENAI_API_KEY, else $OPENAI_API_KEY)",
    )
    sp.add_argument(
        "--openai-model",
        default=env("RAG_OPENAI_MODEL", Config.openai_model),
        help=f"model name on that server (default {Config.openai_model}, or $RAG_OPENAI_MODEL)",
    )
    sp.add_argument(
        "--min-support",
        type=_share,
        default=env("RAG_MIN_SUPPORT", str(Config.min_support)),
        help=f"how strong the evidence must be to answer, 0-1 (default {Config.min_support}, or $RAG_MIN_SUPPORT); "
        "higher refuses more questions the sources only come close to answering (BENCHMARKS.md)",
    )


def answer_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Config fields from `answer_options` (and the API key from the environment)."""
    return {
        "answerer": args.answerer,
        "llm_model": args.llm_model,
        "llm_engine": args.llm_engine,
        "llm_threads": args.llm_threads,
        "openai_base_url": args.openai_base_url,
        "openai_model": args.openai_model,
        "openai_api_key": os.environ.get("RAG_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY", ""),
        "min_support": args.min_support,
        **rerank_settings(args),
    }


def milvus_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--milvus-uri",
        default=os.environ.get("RAG_MILVUS_URI", ""),
        metavar="URI",
        help="the index is held in Milvus: http://host:19530 for a server (token from $RAG_MILVUS_TOKEN), "
        "or a file for Milvus Lite (default with --store milvus: INDEX/milvus.db); or $RAG_MILVUS_URI",
    )
    sp.add_argument(
        "--milvus-collection",
        default=os.environ.get("RAG_MILVUS_COLLECTION", Config.milvus_collection),
        metavar="NAME",
        help=f"the index's name in Milvus (default {Config.milvus_collection}, or $RAG_MILVUS_COLLECTION)",
    )


def milvus_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "milvus_uri": args.milvus_uri,
        "milvus_collection": args.milvus_collection,
        "milvus_token": os.environ.get("RAG_MILVUS_TOKEN", ""),
    }
