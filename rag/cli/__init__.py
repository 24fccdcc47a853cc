"""The command line, `rag index|search|ask|chat|eval` (or `python -m rag`): the parser and `main`,
which turns every `RagError` into one line on stderr with exit code 1. With app.py the only place
that prints, exits, or reads environment variables (API keys and tokens from the environment only,
never from the command line, which other users of the machine can see)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import Config
from ..errors import RagError
from ..evaluation import EVAL_CACHE
from . import commands as cmd
from .commands import DEFAULT_SOURCES
from .options import answer_options, backend_option, chunk_option, positive_int, rerank_options


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (RagError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the previous index is unchanged", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Question answering over your articles, with citations.")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--index",
            default=os.environ.get("RAG_INDEX", "index"),
            metavar="DIR",
            help="index folder (default: ./index, or $RAG_INDEX)",
        )
        backend_option(sp)

    sp = sub.add_parser("index", help="build or update an index from files, folders or a .jsonl corpus")
    sp.add_argument("paths", nargs="*", default=[DEFAULT_SOURCES], metavar="PATH", help="default: ./sources")
    common(sp)
    sp.add_argument("--rebuild", action="store_true", help="discard the existing index and embed everything")
    sp.add_argument("--model", default=os.environ.get("RAG_MODEL"), help="embedding model (HF id or folder)")
    sp.add_argument(
        "--store",
        choices=("flat", "hnsw", "ivf", "milvus"),
        default=os.environ.get("RAG_STORE"),
        help="FAISS index type, or milvus (see --milvus-uri); default: the existing index's, else flat",
    )
    sp.add_argument(
        "--milvus-uri",
        default=os.environ.get("RAG_MILVUS_URI", ""),
        help="Milvus: a local file for Milvus Lite (default: index/milvus.db) or http://host:19530 "
        "(token from $RAG_MILVUS_TOKEN)",
    )
    chunk_option(sp, f"default: the existing index's, else {Config.chunk_chars}; another size needs --rebuild")
    sp.add_argument("--json", action="store_true", help="print the statistics as JSON")
    sp.set_defaults(func=cmd.cmd_index)

    sp = sub.add_parser("search", help="the best passages for a query")
    sp.add_argument("query")
    common(sp)
    sp.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    sp.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    rerank_options(sp)
    sp.add_argument("--json", action="store_true", help="print the hits as JSON")
    sp.set_defaults(func=cmd.cmd_search)

    sp = sub.add_parser("ask", help="answer a question with citations")
    sp.add_argument("question")
    common(sp)
    answer_options(sp)
    sp.add_argument("-k", type=int, default=None, help="passages to read (default from config)")
    sp.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    sp.add_argument("--json", action="store_true", help="print the answer as JSON")
    sp.set_defaults(func=cmd.cmd_ask)

    sp = sub.add_parser("chat", help="a conversation: one question per line on stdin, follow-ups allowed")
    common(sp)
    answer_options(sp)
    sp.add_argument("-k", type=int, default=None, help="passages to read (default from config)")
    sp.set_defaults(func=cmd.cmd_chat)

    sp = sub.add_parser("eval", help="measure retrieval and answers on a labelled question set")
    sp.add_argument("--corpus", required=True, type=Path, help="corpus .jsonl (doc_id, title, text, url)")
    sp.add_argument("--questions", required=True, type=Path, help="questions .jsonl (question, answers, doc_id)")
    sp.add_argument("--unanswerable", type=Path, help="questions the corpus cannot answer (share refused)")
    sp.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    sp.add_argument("--store", choices=("flat", "hnsw", "ivf", "milvus"), default="flat", help="vector store")
    chunk_option(sp, f"default {Config.chunk_chars}")
    backend_option(sp)
    answer_options(sp)
    sp.add_argument("-k", "--k", type=int, default=None, help="passages the answerer reads")
    sp.add_argument("--limit", type=int, default=None, help="only the first N questions")
    sp.add_argument("--no-answers", action="store_true", help="retrieval metrics only")
    sp.add_argument("--cache", type=Path, default=Path(os.environ.get("RAG_EVAL_CACHE", EVAL_CACHE)))
    sp.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON to OUT")
    sp.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=50,
        metavar="N",
        help='rewrite OUT every N questions with the metrics so far ("complete": false) (default 50)',
    )
    sp.set_defaults(func=cmd.cmd_eval)
    return p
