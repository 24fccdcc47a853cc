"""The command line, `rag index|list|remove|search|ask|chat|eval` (or `python -m rag`): the parser and `main`,
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
from .options import answer_options, backend_option, chunk_option, milvus_options, positive_int, rerank_options


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


EXAMPLES = """examples:
  rag index articles/                 add (or update) every article in a folder
  rag index new.pdf                   add one more; the others stay
  rag index articles/ --sync          make the index mirror the folder (prints what it removes)
  rag list                            what is indexed
  rag remove new.pdf                  take one out (ids as `rag list` shows them)
  rag ask "Combien Google a-t-il payé pour Noam Shazeer ?"
  rag chat                            a conversation; follow-up questions allowed, `exit` to leave
  rag search "Character.AI" -k 3 --json

Every command takes --index DIR (default ./index, or $RAG_INDEX) and --json (machine-readable
output on stdout). Settings and environment variables: docs/operations.md."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rag-articles")
    except PackageNotFoundError:  # a source checkout that was not installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rag",
        description="Question answering over your articles, with citations.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--index",
            default=os.environ.get("RAG_INDEX", "index"),
            metavar="DIR",
            help="index folder (default: ./index, or $RAG_INDEX)",
        )
        milvus_options(sp)
        backend_option(sp)

    def as_json(sp: argparse.ArgumentParser, what: str) -> None:
        sp.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout")

    sp = sub.add_parser(
        "index",
        help="add or update articles: files, folders or .jsonl corpora (others stay unless --sync)",
        description="Add the articles under PATH to the index: new ones are added, changed ones "
        "replaced, and only they are embedded. Articles indexed before stay, unless --sync.",
    )
    sp.add_argument(
        "paths", nargs="*", default=[DEFAULT_SOURCES], metavar="PATH", help="files or folders (default: ./sources)"
    )
    common(sp)
    sp.add_argument(
        "--sync",
        action="store_true",
        help="mirror PATH: remove every indexed article not found under it (and say which)",
    )
    sp.add_argument(
        "--rebuild", action="store_true", help="discard the existing index and embed PATH again (e.g. a new model)"
    )
    sp.add_argument("--model", default=os.environ.get("RAG_MODEL"), help="embedding model (HF id or folder)")
    sp.add_argument(
        "--store",
        choices=("flat", "hnsw", "ivf", "milvus"),
        default=os.environ.get("RAG_STORE"),
        help="FAISS index type, or milvus (the index held in Milvus, see --milvus-uri); default: the "
        "existing index's, else flat",
    )
    chunk_option(sp, f"default: the existing index's, else {Config.chunk_chars}; another size needs --rebuild")
    as_json(sp, "the statistics")
    sp.set_defaults(func=cmd.cmd_index)

    sp = sub.add_parser("list", help="the indexed articles: id, title, language, passages, when indexed")
    sp.add_argument("--index", default=os.environ.get("RAG_INDEX", "index"), metavar="DIR", help="index folder")
    milvus_options(sp)
    as_json(sp, "the list")
    sp.set_defaults(func=cmd.cmd_list)

    sp = sub.add_parser("remove", help="remove articles from the index by id (as `rag list` shows them)")
    sp.add_argument("doc_ids", nargs="+", metavar="DOC_ID", help="ids of the articles to remove")
    sp.add_argument("--index", default=os.environ.get("RAG_INDEX", "index"), metavar="DIR", help="index folder")
    milvus_options(sp)
    as_json(sp, "the statistics")
    sp.set_defaults(func=cmd.cmd_remove)

    sp = sub.add_parser(
        "migrate",
        help="move a local index into Milvus (documents, passages, vectors and terms; nothing re-embedded)",
        description="Copy the live version of the index folder into Milvus (--milvus-uri, default a Milvus "
        "Lite file INDEX/milvus.db) as a new index named --milvus-collection. The folder is left as it is.",
    )
    sp.add_argument("--index", default=os.environ.get("RAG_INDEX", "index"), metavar="DIR", help="index folder")
    milvus_options(sp)
    as_json(sp, "the statistics")
    sp.set_defaults(func=cmd.cmd_migrate)

    sp = sub.add_parser("search", help="the best passages for a query")
    sp.add_argument("query", help="words or a question")
    common(sp)
    sp.add_argument("-k", type=positive_int, default=5, help="how many passages (default 5)")
    sp.add_argument(
        "--mode",
        choices=("hybrid", "dense", "lexical"),
        default="hybrid",
        help="hybrid (default; reranked), or one retriever alone for comparison",
    )
    rerank_options(sp)
    as_json(sp, "the hits")
    sp.set_defaults(func=cmd.cmd_search)

    sp = sub.add_parser("ask", help="answer a question with citations")
    sp.add_argument("question", help="in French or English")
    common(sp)
    answer_options(sp)
    sp.add_argument("-k", type=positive_int, default=None, help="passages to read (default from config)")
    sp.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    as_json(sp, "the answer")
    sp.set_defaults(func=cmd.cmd_ask)

    sp = sub.add_parser(
        "chat",
        help="a conversation: one question per line, follow-ups allowed; `exit` or Ctrl-D leaves",
    )
    common(sp)
    answer_options(sp)
    sp.add_argument("-k", type=positive_int, default=None, help="passages to read (default from config)")
    as_json(sp, "each answer (one JSON object per line)")
    sp.set_defaults(func=cmd.cmd_chat)

    sp = sub.add_parser("eval", help="measure retrieval and answers on a labelled question set")
    sp.add_argument("--corpus", required=True, type=Path, help="corpus .jsonl (doc_id, title, text, url)")
    sp.add_argument("--questions", required=True, type=Path, help="questions .jsonl (question, answers, doc_id)")
    sp.add_argument("--unanswerable", type=Path, help="questions the corpus cannot answer (share refused)")
    sp.add_argument(
        "--mode", choices=("hybrid", "dense", "lexical"), default="hybrid", help="retriever (default hybrid)"
    )
    sp.add_argument("--store", choices=("flat", "hnsw", "ivf", "milvus"), default="flat", help="vector store")
    chunk_option(sp, f"default {Config.chunk_chars}")
    backend_option(sp)
    answer_options(sp)
    sp.add_argument("-k", "--k", type=positive_int, default=None, help="passages the answerer reads")
    sp.add_argument("--limit", type=positive_int, default=None, help="only the first N questions")
    sp.add_argument("--no-answers", action="store_true", help="retrieval metrics only")
    sp.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("RAG_EVAL_CACHE", EVAL_CACHE)),
        help=f"where the corpus's index is kept between runs (default {EVAL_CACHE}, or $RAG_EVAL_CACHE)",
    )
    as_json(sp, "the results")
    sp.add_argument("--output", type=Path, metavar="FILE", help="also write the results as JSON to FILE")
    sp.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=50,
        metavar="N",
        help='rewrite FILE every N questions with the metrics so far ("complete": false) (default 50)',
    )
    sp.set_defaults(func=cmd.cmd_eval)
    return p
