"""Command line: `python -m rag index|search|ask|chat|eval`. The only place (with app.py) that prints,
exits, or reads environment variables (RAG_INDEX, RAG_MODEL, RAG_ANSWERER, RAG_LLM_MODEL,
RAG_OPENAI_BASE_URL, RAG_OPENAI_MODEL, RAG_OPENAI_API_KEY: the key is read from the environment only,
never from the command line, which other users of the machine can see)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import ANSWERERS, EMBEDDING_BACKENDS, Config
from .errors import RagError
from .evaluation import EVAL_CACHE

DEFAULT_SOURCES = "sources"


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
    p = argparse.ArgumentParser(
        prog="python -m rag", description="Question answering over your articles, with citations."
    )
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
    sp.set_defaults(func=_cmd_index)

    sp = sub.add_parser("search", help="the best passages for a query")
    sp.add_argument("query")
    common(sp)
    sp.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    sp.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    rerank_options(sp)
    sp.add_argument("--json", action="store_true", help="print the hits as JSON")
    sp.set_defaults(func=_cmd_search)

    sp = sub.add_parser("ask", help="answer a question with citations")
    sp.add_argument("question")
    common(sp)
    answer_options(sp)
    sp.add_argument("-k", type=int, default=None, help="passages to read (default from config)")
    sp.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    sp.add_argument("--json", action="store_true", help="print the answer as JSON")
    sp.set_defaults(func=_cmd_ask)

    sp = sub.add_parser("chat", help="a conversation: one question per line on stdin, follow-ups allowed")
    common(sp)
    answer_options(sp)
    sp.add_argument("-k", type=int, default=None, help="passages to read (default from config)")
    sp.set_defaults(func=_cmd_chat)

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
        type=_positive_int,
        default=50,
        metavar="N",
        help='rewrite OUT every N questions with the metrics so far ("complete": false) (default 50)',
    )
    sp.set_defaults(func=_cmd_eval)
    return p


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


_positive_int = _checked(int, lambda n: n >= 1, "{text!r} is not a positive whole number")
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


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Write `value` to `path` whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


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
    sp.add_argument("--llm-engine", choices=("auto", "transformers", "llama.cpp"), default="auto")
    sp.add_argument("--llm-threads", type=int, default=0, help="llama.cpp threads (default: all cores)")
    sp.add_argument("--openai-base-url", default=env("RAG_OPENAI_BASE_URL", Config.openai_base_url))
    sp.add_argument("--openai-model", default=env("RAG_OPENAI_MODEL", Config.openai_model))
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
        "openai_api_key": os.environ.get("RAG_OPENAI_API_KEY", ""),
        "min_support": args.min_support,
        **rerank_settings(args),
    }


def _rag(args: argparse.Namespace, config: Config | None = None):  # type: ignore[no-untyped-def]
    from . import index as index_io
    from .pipeline import RAG

    rag = RAG(args.index, config=config)
    rag.config = rag.config.with_(
        milvus_token=os.environ.get("RAG_MILVUS_TOKEN", ""), embedding_backend=args.embedding_backend
    )
    if hasattr(args, "answerer"):
        rag.config = rag.config.with_(**answer_settings(args))
    elif hasattr(args, "rerank"):
        rag.config = rag.config.with_(**rerank_settings(args))
    if not index_io.exists(rag.index_dir):
        if args.index == "index" and Path(DEFAULT_SOURCES).is_dir():
            print(f"no index yet: building {args.index}/ from {DEFAULT_SOURCES}/", file=sys.stderr)
            _print_stats(rag.index([DEFAULT_SOURCES], on_progress=_progress_bar()), as_json=False)
        else:
            from .errors import IndexNotFoundError

            raise IndexNotFoundError(
                f"no index in {args.index}; build it with `python -m rag index PATH... --index {args.index}`"
            )
    return rag


def _progress_bar():  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    bar = tqdm(unit=" docs", desc="indexing", file=sys.stderr, dynamic_ncols=True)

    def update(p: Any) -> None:
        bar.n = p.documents
        bar.set_postfix(chunks=p.chunks, embedded=p.embedded, skipped=p.skipped, refresh=False)
        bar.refresh()

    update.close = bar.close  # type: ignore[attr-defined]
    return update


def _print_stats(stats: Any, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(stats.to_dict(), ensure_ascii=False, indent=1))
        return
    for s in stats.skipped:
        print(f"skipped {s.source}: {s.reason}", file=sys.stderr)
    print(
        f"{stats.documents} documents, {stats.chunks} chunks: {stats.added} added, {stats.changed} changed, "
        f"{stats.removed} removed, {stats.unchanged} unchanged; embedded {stats.embedded_chunks} chunks "
        f"in {stats.seconds:.1f} s ({stats.passages_per_second:.0f} passages/s, {stats.embedding_backend}"
        f"{f', {stats.resumed_chunks} resumed from an interrupted run' if stats.resumed_chunks else ''}); "
        f"{len(stats.skipped)} file(s) skipped; version {stats.version or '(none)'}"
    )


def _cmd_index(args: argparse.Namespace) -> int:
    from .pipeline import RAG

    rag = RAG(args.index)
    changes = {
        "milvus_uri": args.milvus_uri,
        "milvus_token": os.environ.get("RAG_MILVUS_TOKEN", ""),
        "embedding_backend": args.embedding_backend,
    }
    if args.model:
        changes["embedding_model"] = args.model
    if args.chunk_chars:
        changes["chunk_chars"] = args.chunk_chars
    rag.config = rag.config.with_(**changes)
    progress = _progress_bar()
    try:
        stats = rag.index(args.paths, rebuild=args.rebuild, store=args.store, on_progress=progress)
    finally:
        progress.close()  # type: ignore[attr-defined]
    _print_stats(stats, as_json=args.json)
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    hits = _rag(args).search(args.query, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=1))
        return 0
    for h in hits:
        d = "-" if h.dense_score is None else f"{h.dense_score:.3f}"
        lx = "-" if h.lexical_score is None else f"{h.lexical_score:.2f}"
        print(
            f"[{h.rank}] {h.chunk.title} ({h.chunk.doc_id}, chars {h.chunk.start}-{h.chunk.end}) "
            f"score {h.score:.4f} dense {d} bm25 {lx}\n    {h.chunk.text[:300]}\n"
        )
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    on_token = _print_token if args.stream and not args.json else None
    answer = _rag(args).ask(args.question, k=args.k, on_token=on_token)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return 0
    if on_token:
        print("\n")  # the streamed draft; below, the verified answer
    _print_answer(answer)
    return 0


def _cmd_chat(args: argparse.Namespace) -> int:
    rag = _rag(args)
    history: list[dict[str, str]] = []
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        question = line.strip()
        if not question:
            continue
        answer = rag.ask(question, history=history, k=args.k)
        _print_answer(answer)
        print()
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


def _print_token(piece: str) -> None:
    print(piece, end="", flush=True)


def _print_answer(answer: Any) -> None:
    print(answer.text)
    if answer.citations:
        print()
    for c in answer.citations:
        print(f"[{c.n}] {c.title} ({c.source}, chars {c.start}-{c.end}): «{c.quote}»")
    for sentence in answer.unsupported:
        print(f"(unsupported by the sources) {sentence}")
    close = answer.close_hits()
    if close:
        print("\nAlso check (scored about as high as the cited passage, or higher; the answer may be here):")
        for h in close:
            print(f"- {h.chunk.title} ({h.chunk.doc_id}): {h.chunk.text[:200]}")
    if not answer.citations and answer.passages:  # a refusal, or an answer no passage supports
        print(
            "\nPassages consulted (none verifies the answer):"
            if answer.answered
            else f"\nRelated passages (not an answer; support {answer.support:.2f}, see --min-support):"
        )
        for h in answer.passages[:3]:
            print(f"- {h.chunk.title} ({h.chunk.doc_id}): {h.chunk.text[:200]}")


def _cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .evaluation import answer_metrics, cached_index_dir, read_questions, retrieval_metrics
    from .pipeline import RAG

    config = Config().with_(**answer_settings(args), embedding_backend=args.embedding_backend)
    if args.chunk_chars:
        config = config.with_(chunk_chars=args.chunk_chars)
    questions = read_questions(args.questions)[: args.limit]
    unanswerable = read_questions(args.unanswerable)[: args.limit] if args.unanswerable else []
    rag = RAG(cached_index_dir(args.cache, args.corpus, config, args.store), config=config)
    import resource
    import time

    t = time.perf_counter()
    stats = rag.index([args.corpus], store=args.store, on_progress=None)
    build_s = time.perf_counter() - t
    results: dict[str, Any] = {
        "corpus": str(args.corpus),
        "questions": str(args.questions),
        "mode": args.mode,
        "store": args.store,
        "answerer": args.answerer,
        "rerank": config.rerank and args.mode == "hybrid",
        "chunk_chars": config.chunk_chars,
        "rerank_cache_mb": config.rerank_cache_mb,
        "min_support": config.min_support,
        "embedding_backend": stats.embedding_backend,
        "chunks": stats.chunks,
        "index_build_s": build_s,
        "embedded_chunks": stats.embedded_chunks,
    }

    def checkpoint(stage: str, bar: Any, tally: Any, total: int) -> None:
        bar.update()
        if args.json and (bar.n % args.checkpoint_every == 0 or bar.n == total):
            partial = {**results, **tally.metrics(), "complete": False, "stage": stage, "done": bar.n, "of": total}
            _write_json(args.json, partial)

    with tqdm(total=len(questions), desc="retrieval", file=sys.stderr) as bar:
        results.update(
            retrieval_metrics(
                questions,
                lambda q: rag.search(q, k=10, mode=args.mode),
                on_step=lambda tally: checkpoint("retrieval", bar, tally, len(questions)),
            )
        )
    if not args.no_answers:
        total = len(questions) + len(unanswerable)
        with tqdm(total=total, desc="answers", file=sys.stderr) as bar:
            results.update(
                answer_metrics(
                    questions,
                    lambda q: rag.ask(q, k=args.k),
                    on_step=lambda tally: checkpoint("answers", bar, tally, total),
                    unanswerable=unanswerable,
                )
            )
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["complete"] = True
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:.3f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    if args.json:
        _write_json(args.json, results)
    return 0
