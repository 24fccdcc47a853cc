"""The commands behind `rag index|list|remove|search|ask|chat|eval`: each builds its `Config` once, opens a
`RAG` with it, and prints. Errors are raised to `cli.main`, which prints them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..config import Config
from .options import answer_settings, milvus_settings, rerank_settings

DEFAULT_SOURCES = "sources"


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Write `value` to `path` whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def open_rag(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The `RAG` for a search/ask/chat command: the index's own settings with the command's
    options; an index is built from ./sources first when the default ./index does not exist."""
    from ..errors import IndexNotFoundError
    from ..pipeline import RAG, index_config

    changes: dict[str, Any] = {"embedding_backend": args.embedding_backend}
    if hasattr(args, "answerer"):
        changes.update(answer_settings(args))
    elif hasattr(args, "rerank"):
        changes.update(rerank_settings(args))
    base = Config().with_(**milvus_settings(args))
    rag = RAG(args.index, config=index_config(args.index, base).with_(**changes))
    if not rag.exists():
        if args.index == "index" and Path(DEFAULT_SOURCES).is_dir() and not args.milvus_uri:
            print(f"no index yet: building {args.index}/ from {DEFAULT_SOURCES}/", file=sys.stderr)
            print_stats(rag.index([DEFAULT_SOURCES], on_progress=progress_bar()), as_json=False)
        else:
            raise IndexNotFoundError(
                f"no index in {args.index}; build it with `rag index PATH... --index {args.index}`"
            )
    return rag


def progress_bar():  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    bar = tqdm(unit=" docs", desc="indexing", file=sys.stderr, dynamic_ncols=True)

    def update(p: Any) -> None:
        if p.total and bar.total != p.total:
            bar.total = p.total
        bar.n = p.documents
        bar.set_postfix(chunks=p.chunks, embedded=p.embedded, skipped=p.skipped, refresh=False)
        bar.refresh()

    update.close = bar.close  # type: ignore[attr-defined]
    return update


def print_stats(stats: Any, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(stats.to_dict(), ensure_ascii=False, indent=1))
        return
    for s in stats.skipped:
        print(f"skipped {s.source}: {s.reason}", file=sys.stderr)
    for doc_id in stats.removed_ids:
        print(f"removed {doc_id}", file=sys.stderr)
    print(
        f"{stats.documents} documents, {stats.chunks} chunks: {stats.added} added, {stats.changed} changed, "
        f"{stats.removed} removed, {stats.unchanged} unchanged; embedded {stats.embedded_chunks} chunks "
        f"in {stats.seconds:.1f} s ({stats.passages_per_second:.0f} passages/s, {stats.embedding_backend}"
        f"{f', {stats.resumed_chunks} resumed from an interrupted run' if stats.resumed_chunks else ''}); "
        f"{len(stats.skipped)} file(s) skipped; version {stats.version or '(none)'}"
    )


def cmd_index(args: argparse.Namespace) -> int:
    from ..pipeline import RAG, index_config

    changes: dict[str, Any] = {"embedding_backend": args.embedding_backend}
    if args.model:
        changes["embedding_model"] = args.model
    if args.chunk_chars:
        changes["chunk_chars"] = args.chunk_chars
    base = Config().with_(**milvus_settings(args))
    rag = RAG(args.index, config=index_config(args.index, base).with_(**changes))
    progress = progress_bar()
    try:
        stats = rag.index(args.paths, sync=args.sync, rebuild=args.rebuild, store=args.store, on_progress=progress)
    finally:
        progress.close()  # type: ignore[attr-defined]
    print_stats(stats, as_json=args.json)
    return 0


def _managed(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The `RAG` for list/remove: the index must exist (nothing is built, no model loaded)."""
    from ..errors import IndexNotFoundError
    from ..pipeline import RAG, index_config

    rag = RAG(args.index, config=index_config(args.index, Config().with_(**milvus_settings(args))))
    if not rag.exists():
        where = f"Milvus at {args.milvus_uri}" if args.milvus_uri else args.index
        raise IndexNotFoundError(f"no index in {where}; build one with `rag index PATH... --index {args.index}`")
    return rag


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy the local index in --index into Milvus as a new index (nothing re-embedded)."""
    from ..errors import IndexNotFoundError, RagError
    from ..pipeline import RAG, index_config
    from ..storage import index as index_io
    from ..storage.milvus import MilvusIndex

    if not index_io.exists(Path(args.index)):
        raise IndexNotFoundError(f"no local index in {args.index} to move; --index names the folder that holds it")
    milvus = milvus_settings(args)
    uri = milvus["milvus_uri"] or str(Path(args.index) / "milvus.db")
    milvus["milvus_uri"] = uri
    if MilvusIndex.exists(uri, milvus["milvus_token"], milvus["milvus_collection"]):
        raise RagError(
            f"Milvus at {uri} already holds an index named {milvus['milvus_collection']!r}; choose another "
            "--milvus-collection, or update that one with `rag index PATH... --milvus-uri ...`"
        )
    rag = RAG(args.index, config=index_config(args.index).with_(**milvus))
    stats = rag.index([], store="milvus")
    if args.json:
        print_stats(stats, as_json=True)
        return 0
    print(
        f"moved {stats.documents} documents and {stats.chunks} passages from {args.index} into the Milvus index "
        f"{milvus['milvus_collection']!r} at {uri} ({stats.written_rows} rows, {stats.seconds:.1f} s). Serve it with "
        f"--milvus-uri {uri}; the folder's versions are no longer needed."
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    docs = _managed(args).documents()
    if args.json:
        print(json.dumps([d.to_dict() for d in docs], ensure_ascii=False, indent=1))
        return 0
    width = min(max((len(d.doc_id) for d in docs), default=6), 40)
    print(f"{'DOC ID':<{width}}  LANG  PASSAGES  INDEXED                   TITLE")
    for d in docs:
        print(f"{d.doc_id:<{width}}  {d.lang:<4}  {d.chunks:>8}  {d.indexed:<24}  {d.title[:60]}")
    print(f"{len(docs)} articles, {sum(d.chunks for d in docs)} passages in {args.index}", file=sys.stderr)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    stats = _managed(args).remove(args.doc_ids)
    if args.json:
        print_stats(stats, as_json=True)
        return 0
    for doc_id in stats.removed_ids:
        print(f"removed {doc_id}")
    print(f"{stats.documents} articles, {stats.chunks} passages left; version {stats.version}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    hits = open_rag(args).search(args.query, k=args.k, mode=args.mode)
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


def cmd_ask(args: argparse.Namespace) -> int:
    on_token = _print_token if args.stream and not args.json else None
    answer = open_rag(args).ask(args.question, k=args.k, on_token=on_token)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return 0
    if on_token:
        print("\n")  # the streamed draft; below, the verified answer
    print_answer(answer)
    return 0


EXIT_WORDS = frozenset({"exit", "quit", ":q", "/exit", "/quit"})


def cmd_chat(args: argparse.Namespace) -> int:
    rag = open_rag(args)
    history: list[dict[str, str]] = []
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401 - input() gets line editing and history (arrows, Ctrl-R)

        print("Ask a question about the articles (`exit` or Ctrl-D to leave).", file=sys.stderr)
    while True:
        try:
            line = input("> ") if interactive else sys.stdin.readline()
        except EOFError:
            line = ""
        if not line:
            if interactive:
                print(file=sys.stderr)
            return 0
        question = line.strip()
        if question.lower() in EXIT_WORDS:
            return 0
        if not question:
            continue
        answer = rag.ask(question, history=history, k=args.k)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            print_answer(answer)
            print(flush=True)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


def _print_token(piece: str) -> None:
    print(piece, end="", flush=True)


def print_answer(answer: Any) -> None:
    print(answer.text)
    if answer.citations:
        print()
    if answer.confidence == "closest":
        print(f"Closest passage, not an answer (support {answer.support:.2f}; the articles do not say it directly):")
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


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..evaluation import answer_metrics, cached_index_dir, read_questions, retrieval_metrics
    from ..pipeline import RAG

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
        if args.output and (bar.n % args.checkpoint_every == 0 or bar.n == total):
            partial = {**results, **tally.metrics(), "complete": False, "stage": stage, "done": bar.n, "of": total}
            _write_json(args.output, partial)

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
                    per_question=bool(args.output),
                )
            )
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["complete"] = True
    if args.output:
        _write_json(args.output, results)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return 0
    width = max(len(k) for k in results)
    for key, value in results.items():
        if key.startswith("per_"):
            continue  # the per-question records are for --output
        print(f"{key:<{width}}  {value:.3f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    return 0
