"""The Gradio chat app: `python app.py` adds what is new or changed in `sources/` to the index (it
removes nothing), then serves the chat on 127.0.0.1:7860, with the HTTP, OpenAI-compatible and MCP
endpoints beside it (`rag.http_api`). Answers stream in, carry [n] markers that link to a sources
panel showing each cited passage with the quoted span highlighted, and follow-up questions use the
conversation, which the browser keeps across reloads. The page is French or English after the
browser (`rag.app_text`). The Articles panel lists, adds and removes articles. Article text is
always HTML-escaped: it is shown, never executed."""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import typing
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from rag.app_text import EXAMPLES, TEXTS, UiLang, t, ui_lang
from rag.ingest.uploads import UPLOAD_TYPES
from rag.text.followup import message_text
from rag.text.terms import question_text, valid_text

ROOT = Path(__file__).resolve().parent
STORAGE_KEY = "rag-conversation"  # the conversation in the browser's localStorage (encrypted by Gradio)


def render_sources(answer: Any, min_support: float | None = None, lang: UiLang = "fr") -> str:
    """The sources panel: cited passages with the quote highlighted, or related passages, and how
    strongly the sources support an answer against the threshold `min_support`. A live region
    under its own heading, so assistive technology announces new sources."""
    parts = [
        "<section class='sources' aria-live='polite' aria-labelledby='sources-heading'>"
        f"<h3 id='sources-heading'>{t(lang, 'sources')}</h3>"
    ]
    if answer is None:
        parts.append(f"<p>{t(lang, 'empty_sources')}</p></section>")
        return "".join(parts)
    if min_support is not None:
        verdict = t(lang, "reached" if answer.support >= min_support else "not_reached")
        support = t(lang, "support", support=answer.support, threshold=min_support, verdict=verdict)
        parts.append(f"<p class='meta' id='support'>{support}</p>")
    if answer.answered and answer.citations:
        if answer.confidence == "closest":
            parts.append(
                f"<p class='closest-title' id='closest'><b>{t(lang, 'closest_title')}</b> : "
                f"{t(lang, 'closest_text')}</p>"
            )
        chunks = {h.chunk.chunk_id: h.chunk for h in answer.passages}
        for c in answer.citations:
            chunk = chunks.get(c.chunk_id)
            if chunk and chunk.start <= c.start and c.end <= chunk.end:
                before = chunk.text[: c.start - chunk.start]
                after = chunk.text[c.end - chunk.start :]
            else:
                before = after = ""
            passage = f"{html.escape(before)}<mark>{html.escape(c.quote)}</mark>{html.escape(after)}"
            parts.append(
                f"<article class='citation' id='citation-{c.n}' tabindex='-1'><h4>[{c.n}] {html.escape(c.title)}</h4>"
                f"<p class='meta'>{_source_link(c.source, c.url)} · {t(lang, 'characters')} {c.start}–{c.end} · "
                f"score {c.score:.3f}</p><blockquote>{passage}</blockquote></article>"
            )
        close = answer.close_hits()
        if close:
            parts.append(
                f"<div class='close-call' id='close-call'><p class='close-title'><b>{t(lang, 'close_title')}</b> : "
                f"{t(lang, 'close_text')}</p>"
            )
            parts.extend(_passage(h) for h in close)
            parts.append("</div>")
    else:
        title = t(lang, "none_verified" if answer.answered else "related")
        parts.append(f"<p class='related-title'><b>{title}</b></p>")
        parts.extend(_passage(h) for h in answer.passages[:3])
    parts.append("</section>")
    return "".join(parts)


def _passage(h: Any) -> str:
    """A retrieved passage shown whole, not as a citation."""
    return (
        f"<div class='related'><h4>{html.escape(h.chunk.title)}</h4>"
        f"<p class='meta'>{_source_link(h.source, h.url)} · score {h.score:.3f}</p>"
        f"<blockquote>{html.escape(h.chunk.text)}</blockquote></div>"
    )


def _source_link(source: str, url: str) -> str:
    if url.startswith(("https://", "http://")):  # never javascript: or data: links
        href = html.escape(url, quote=True)
        return f"<a href='{href}' target='_blank' rel='noopener noreferrer'>{html.escape(source)}</a>"
    return html.escape(source)


MARKER = re.compile(r"\[(\d{1,2})\]")
MARKER_LINK = re.compile(r"\[\\\[(\d{1,2})\\\]\]\(#citation-\d{1,2}\)")


def chat_text(answer: Any, lang: UiLang = "fr") -> str:
    """The assistant's message: the answer, each [n] a link to its citation in the sources panel,
    then any sentence no source supports, marked as such."""
    cited = {c.n for c in answer.citations}
    text = MARKER.sub(lambda m: f"[\\[{m[1]}\\]](#citation-{m[1]})" if int(m[1]) in cited else m[0], answer.text)
    lines = [text]
    for sentence in answer.unsupported:
        lines.append(f"\n> {t(lang, 'unsupported')} : « {sentence} »")
    return "\n".join(lines)


def plain_markers(text: str) -> str:
    """A message with its citation links back to plain [n] markers."""
    return MARKER_LINK.sub(lambda m: f"[{m[1]}]", text)


REMOVED_FOLDER = ".removed"  # under sources/: hidden, so never indexed again, and recoverable


def add_articles(
    rag: Any, sources: Path, files: list[Any] | None, overwrite: bool, progress: Any = None, lang: UiLang = "fr"
) -> str:
    """Save uploaded files under `sources` and index them (only them: the other articles stay as
    they are), reporting progress as `progress((done, total), desc=...)`; a report of what
    happened to each file: added, updated, unchanged, or refused and why."""
    from rag.ingest.uploads import save_upload

    if not files:
        return t(lang, "choose_files")
    lines, saved = [], []
    for f in files:
        path = Path(getattr(f, "name", f))
        original = getattr(f, "orig_name", None) or path.name
        try:
            saved.append(save_upload(sources, original, path.read_bytes(), overwrite=overwrite))
        except (ValueError, OSError) as exc:
            lines.append(f"- ✗ {html.escape(str(exc))}")
    if saved:

        def report(p: Any) -> None:
            if progress is not None:
                progress((p.documents, p.total), desc=t(lang, "indexing", n=p.embedded), unit="articles")

        stats = rag.index(saved, on_progress=report)
        bad = {s.source: s.reason for s in stats.skipped}
        refused = len(files) - len(saved) + sum(path.name in bad for path in saved)
        for path in saved:
            name = html.escape(path.name)
            if path.name in bad:
                path.unlink(missing_ok=True)  # unreadable: not left in sources/ to be skipped forever
                lines.append(f"- ✗ {name} : {t(lang, 'unreadable', reason=html.escape(bad[path.name]))}")
            elif path.name in stats.added_ids:
                lines.append(f"- ✓ {name} {t(lang, 'added')}")
            elif path.name in stats.changed_ids:
                lines.append(f"- ✓ {name} {t(lang, 'updated')}")
            else:
                lines.append(f"- ✓ {name} {t(lang, 'unchanged')}")
        summary = t(
            lang,
            "add_summary",
            added=stats.added,
            changed=stats.changed,
            refused=refused,
            documents=stats.documents,
            chunks=stats.chunks,
        )
        lines.append(f"\n{summary}")
    return "\n".join(lines)


def remove_articles(rag: Any, sources: Path, doc_ids: list[str], lang: UiLang = "fr") -> str:
    """Remove articles from the index; a file of the sources folder goes to `sources/.removed/`
    (kept, but never indexed again at start-up). A report of what was done."""
    if not doc_ids:
        return t(lang, "choose_articles")
    stats = rag.remove(doc_ids)
    folder = sources.resolve()
    lines = []
    for doc_id in stats.removed_ids:
        path = (folder / doc_id).resolve()
        note = ""
        if path.is_file() and folder in path.parents:
            target = folder / REMOVED_FOLDER / doc_id
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
            note = f" ({t(lang, 'moved', folder=html.escape(REMOVED_FOLDER))})"
        lines.append(f"- ✓ {html.escape(doc_id)} {t(lang, 'removed')}{note}")
    lines.append(f"\n{t(lang, 'index_size', documents=stats.documents, chunks=stats.chunks)}")
    return "\n".join(lines)


def render_articles(docs: list[Any], lang: UiLang = "fr") -> str:
    """The indexed articles as a table (HTML-escaped)."""
    if not docs:
        return f"<p>{t(lang, 'no_articles')}</p>"
    rows = "".join(
        f"<tr><td>{html.escape(d.title)}</td><td><code>{html.escape(d.doc_id)}</code></td>"
        f"<td>{d.lang}</td><td>{d.chunks}</td><td>{html.escape(d.indexed[:16].replace('T', ' '))}</td></tr>"
        for d in docs
    )
    head = "".join(
        f"<th scope='col'>{t(lang, k)}</th>" for k in ("col_title", "col_id", "col_lang", "col_chunks", "col_indexed")
    )
    return (
        f"<table class='articles' id='articles-table'><caption>{t(lang, 'articles_caption', n=len(docs))}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


CSS = """
:root { --rag-mark-bg: var(--primary-200); --rag-mark-text: var(--neutral-900); --rag-meta: var(--neutral-600);
        --rag-warn: var(--primary-800); --rag-active: var(--primary-500); }
.dark { --rag-mark-bg: var(--primary-800); --rag-mark-text: var(--neutral-50); --rag-meta: var(--neutral-300);
        --rag-warn: var(--primary-300); --rag-active: var(--primary-400); }
mark { background: var(--rag-mark-bg); color: var(--rag-mark-text); padding: 0 2px; }
.sources h3 { font-size: 1em; margin: 0 0 .5em; }
.sources blockquote { font-size: .9em; }
.meta { color: var(--rag-meta); font-size: .8em; }
.close-call { border-top: 1px solid var(--border-color-primary); margin-top: 1em; padding-top: .5em; }
.close-title, .closest-title { font-size: .9em; color: var(--rag-warn); }
.citation { border-radius: 4px; scroll-margin: 4em; }
.citation.active { outline: 3px solid var(--rag-active); outline-offset: 2px; }
.articles { font-size: .85em; width: 100%; }
.articles caption { text-align: left; font-weight: bold; }
.articles td, .articles th { padding: 2px 6px; text-align: left; vertical-align: top; }
"""

# A click on an answer's [n] marker (a link to #citation-n) brings its citation into view and
# highlights it, instead of following the link.
JS = """() => {
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[href^='#citation-']");
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    document.querySelectorAll(".citation.active").forEach((el) => el.classList.remove("active"));
    target.classList.add("active");
    target.scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
  }, true);
}"""


def build_app(rag: Any, sources: Path, *, concurrency: int = 2, manage: bool = True) -> Any:
    """The Blocks app; `demo.launch_options` holds the theme, CSS, script and translations to serve
    it with (`serve`, or `demo.launch(**demo.launch_options)`). Without `manage`, the articles panel
    lists the articles but offers no upload or removal (a replica that one indexer keeps current)."""
    import gradio as gr

    from rag.config import ANSWERERS

    i18n = gr.I18n(**{lang: dict(texts) for lang, texts in TEXTS.items()})
    empty: dict[str, Any] = {"chat": [], "sources": ""}

    def lang_of(request: gr.Request | None) -> UiLang:
        return ui_lang(request.headers.get("accept-language") if request is not None else None)

    def plain_history(history: Any) -> list[dict[str, str]]:
        """The chat's messages as {"role", "content"} strings, citation links back to [n]: only the
        newest answer links to the sources panel, which shows its citations."""
        if not isinstance(history, list):
            return []
        return [
            {"role": m["role"], "content": plain_markers(message_text(m.get("content", "")))}
            for m in history
            if isinstance(m, dict) and m.get("role") in ("user", "assistant")
        ]

    def respond(  # type: ignore[no-untyped-def]
        message: str, history: list[Any], k: int, answerer_name: str, min_support: float, request: gr.Request
    ):
        lang = lang_of(request)
        message = valid_text(message or "").strip()
        if not message:
            raise gr.Error(t(lang, "ask_first"))
        turns = plain_history(history)
        shown = turns + [{"role": "user", "content": message}, {"role": "assistant", "content": "…"}]
        yield shown, gr.update(), "", gr.update()
        try:
            kwargs = {"history": turns, "k": int(k), "answerer": answerer_name, "min_support": float(min_support)}
            text = ""
            with closing(rag.ask_stream(question_text(message), **kwargs)) as stream:  # Stop closes it
                for item in stream:
                    if isinstance(item, str):
                        text += item
                        shown[-1] = {"role": "assistant", "content": text}
                        yield shown, gr.update(), "", gr.update()
                    else:
                        shown[-1] = {"role": "assistant", "content": chat_text(item, lang)}
                        panel = render_sources(item, float(min_support), lang)
                        yield shown, panel, "", {"chat": shown, "sources": panel}
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            raise gr.Error(f"{type(exc).__name__}: {exc}") from None

    def restore(saved: Any, request: gr.Request) -> tuple[Any, ...]:
        """On page load: the conversation kept in the browser, the examples in the page's language
        and the articles list."""
        lang = lang_of(request)
        saved = saved if isinstance(saved, dict) else empty
        panel = saved.get("sources") if isinstance(saved.get("sources"), str) else ""
        chat = saved.get("chat")
        messages = plain_history(chat)
        if messages and messages[-1]["role"] == "assistant" and chat[-1].get("role") == "assistant":
            messages[-1]["content"] = message_text(chat[-1].get("content", ""))  # its links match the panel
        return (
            messages,
            panel or render_sources(None, lang=lang),
            gr.update(visible=lang == "fr"),
            gr.update(visible=lang == "en"),
            *articles(request),
        )

    def clear(request: gr.Request) -> tuple[Any, ...]:
        return [], render_sources(None, lang=lang_of(request)), "", empty

    def ask(
        question: str,
        k: int = 5,
        answerer: str = "",
        history: list[dict[str, Any]] | None = None,
        min_support: float | None = None,
    ) -> dict[str, Any]:
        """The answer and its citations as JSON. `history` is the conversation so far, a list of
        {"role": "user"|"assistant", "content": ...}; the server keeps no state. `answerer` is
        "extractive", "local" or "openai" (default the app's). `min_support` is the answerability
        threshold (0-1; default the app's, `$RAG_MIN_SUPPORT`)."""
        *_, answer = ask_stream(question, k, answerer, history, min_support)
        return answer["answer"]  # type: ignore[no-any-return]

    def ask_stream(
        question: str,
        k: int = 5,
        answerer: str = "",
        history: list[dict[str, Any]] | None = None,
        min_support: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """`ask`, streamed: {"text": the answer so far, "answer": null} as it is written, then
        {"text": the verified answer, "answer": the answer and its citations as JSON}."""
        if not isinstance(question, str) or not question.strip():
            raise gr.Error("question must be a non-empty string")
        if history is not None and (
            not isinstance(history, list) or not all(isinstance(turn, dict) and "role" in turn for turn in history)
        ):
            raise gr.Error('history must be a list of {"role": "user"|"assistant", "content": "..."}')
        turns = [
            {"role": str(turn["role"]), "content": message_text(turn.get("content", ""))} for turn in history or []
        ]
        options = {"k": int(k), "answerer": answerer or None, "history": turns, "min_support": min_support}
        text = ""
        try:
            with closing(rag.ask_stream(question_text(question), **options)) as stream:
                for item in stream:
                    if isinstance(item, str):
                        text += item
                        yield {"text": text, "answer": None}
                    else:
                        yield {"text": item.text, "answer": item.to_dict()}
        except Exception as exc:  # noqa: BLE001 - RAG.ask names a bad answerer or threshold
            raise gr.Error(f"{type(exc).__name__}: {exc}") from None

    def articles(request: gr.Request) -> tuple[str, Any]:
        try:
            docs = rag.documents()
        except Exception as exc:  # noqa: BLE001 - a damaged index: said here, and by every answer
            return f"<p class='meta'>✗ {html.escape(f'{type(exc).__name__}: {exc}')}</p>", gr.update(choices=[])
        choices = [(f"{d.title} ({d.doc_id})", d.doc_id) for d in docs]
        return render_articles(docs, lang_of(request)), gr.update(choices=choices, value=[])

    def upload(files: list[Any] | None, overwrite: bool, request: gr.Request, progress=gr.Progress()):  # type: ignore[no-untyped-def]  # noqa: B008
        try:
            report = add_articles(rag, sources, files, overwrite, progress, lang_of(request))
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            report = f"✗ {html.escape(f'{type(exc).__name__}: {exc}')}"
        return report, None, *articles(request)

    def ask_removal(ids: list[str] | None, request: gr.Request) -> tuple[str, Any]:
        lang = lang_of(request)
        if not ids:
            return t(lang, "choose_articles"), gr.update(visible=False)
        names = ", ".join(html.escape(i) for i in ids)
        return t(lang, "confirm_remove", n=len(ids), names=names), gr.update(visible=True)

    def remove(ids: list[str] | None, request: gr.Request) -> tuple[str, Any, str, Any]:
        try:
            report = remove_articles(rag, sources, list(ids or []), lang_of(request))
        except Exception as exc:  # noqa: BLE001
            report = f"✗ {html.escape(f'{type(exc).__name__}: {exc}')}"
        return report, gr.update(visible=False), *articles(request)

    for fn in (respond, restore, clear, articles, upload, ask_removal, remove, ask, ask_stream):
        _resolve(fn, gr)
    with gr.Blocks(title="Ask your articles · Questions sur vos articles") as demo:
        gr.Markdown(i18n("heading"))
        saved = gr.BrowserState(empty, storage_key=STORAGE_KEY)
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label=i18n("conversation"), height=480, elem_id="chat", buttons=["copy", "copy_all"])
                box = gr.Textbox(label=i18n("question"), placeholder=i18n("placeholder"), elem_id="question")
                with gr.Row():
                    send = gr.Button(i18n("send"), variant="primary", elem_id="send")
                    stop = gr.Button(i18n("stop"), variant="stop", elem_id="stop")
                    clear_button = gr.Button(i18n("clear"), elem_id="clear")
                with gr.Column(visible=False, elem_id="examples-fr") as examples_fr:
                    gr.Examples(EXAMPLES["fr"], inputs=box, label=i18n("examples"))
                with gr.Column(visible=False, elem_id="examples-en") as examples_en:
                    gr.Examples(EXAMPLES["en"], inputs=box, label=i18n("examples"))
            with gr.Column(scale=2):
                sources_html = gr.HTML(render_sources(None), elem_id="sources")
                with gr.Accordion(i18n("settings"), open=False, elem_id="settings"):
                    k = gr.Slider(1, 10, value=rag.config.k, step=1, label=i18n("k"))
                    answerer = gr.Dropdown(
                        list(ANSWERERS),
                        value=rag.config.answerer,
                        label=i18n("answerer"),
                        info=i18n("answerer_info"),
                        elem_id="answerer",
                    )
                    min_support = gr.Slider(
                        0,
                        1,
                        value=rag.config.min_support,
                        step=0.01,
                        label=i18n("min_support"),
                        info=i18n("min_support_info"),
                        elem_id="min-support",
                    )
                with gr.Accordion(i18n("articles"), open=False, elem_id="articles-panel"):
                    articles_html = gr.HTML(elem_id="articles")
                    with gr.Column(visible=manage, elem_id="article-management"):
                        files = gr.File(
                            label=i18n("upload"),
                            file_count="multiple",
                            file_types=list(UPLOAD_TYPES),
                            elem_id="upload",
                        )
                        overwrite = gr.Checkbox(label=i18n("overwrite"), value=False)
                        add = gr.Button(i18n("add"), elem_id="add")
                        status = gr.Markdown(elem_id="upload-status")
                        chosen = gr.Dropdown([], multiselect=True, label=i18n("remove_choice"), elem_id="remove-choice")
                        ask_remove = gr.Button(i18n("remove"), elem_id="remove", variant="stop")
                        with gr.Group(visible=False, elem_id="remove-confirm") as confirm_box:
                            confirm_text = gr.Markdown(elem_id="remove-question")
                            with gr.Row():
                                confirm = gr.Button(i18n("remove_yes"), elem_id="remove-yes", variant="stop")
                                cancel = gr.Button(i18n("remove_no"), elem_id="remove-no")
                        removal_status = gr.Markdown(elem_id="remove-status")
        inputs = [box, chat, k, answerer, min_support]
        outputs = [chat, sources_html, box, saved]
        # One pool of answer slots shared by the chat and the API: Gradio's default (one at a time
        # per event) made 16 users queue behind each other; models hold their own locks.
        limit = {"concurrency_limit": concurrency, "concurrency_id": "answer"}
        asked = [
            send.click(respond, inputs, outputs, api_visibility="private", **limit),
            box.submit(respond, inputs, outputs, api_visibility="private", **limit),
        ]
        stop.click(None, None, None, cancels=asked, api_visibility="private")
        clear_button.click(clear, None, outputs, api_visibility="private")
        chat.clear(clear, None, outputs, api_visibility="private")  # the chat's own bin button
        if manage:
            add.click(upload, [files, overwrite], [status, files, articles_html, chosen], api_visibility="private")
            ask_remove.click(ask_removal, chosen, [confirm_text, confirm_box], api_visibility="private")
            cancel.click(lambda: gr.update(visible=False), None, confirm_box, api_visibility="private")
            confirm.click(
                remove, chosen, [removal_status, confirm_box, articles_html, chosen], api_visibility="private"
            )
        demo.load(
            restore,
            saved,
            [chat, sources_html, examples_fr, examples_en, articles_html, chosen],
            api_visibility="private",
        )
        gr.api(ask, api_name="ask", **limit)
        gr.api(ask_stream, api_name="ask_stream", **limit)
    theme = gr.themes.Default()
    demo.launch_options = {"css": CSS, "js": JS, "theme": theme, "i18n": i18n}  # type: ignore[attr-defined]
    return demo


def _resolve(fn: Any, gr: Any) -> None:
    """Evaluate `fn`'s annotations (strings under `from __future__ import annotations`), so Gradio
    sees its `gr.Request` parameter and `gr.api` its types."""
    fn.__annotations__ = typing.get_type_hints(fn, localns={"gr": gr})


def main(argv: list[str] | None = None) -> int:
    from rag.cli.commands import print_stats, progress_bar
    from rag.cli.options import (
        answer_options,
        answer_settings,
        backend_option,
        milvus_options,
        milvus_settings,
        port_number,
        positive_int,
    )
    from rag.config import Config

    p = argparse.ArgumentParser(description="Chat with your articles.")
    p.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="address to bind (default: loopback only, or $GRADIO_SERVER_NAME)",
    )
    p.add_argument(
        "--port",
        type=port_number,
        default=os.environ.get("GRADIO_SERVER_PORT", "7860"),
        help="port (default 7860, or $GRADIO_SERVER_PORT)",
    )
    p.add_argument("--share", action="store_true", help="create a public Gradio share link")
    p.add_argument("--index", default=str(ROOT / "index"), help="index folder (default: ./index)")
    p.add_argument("--sources", default=str(ROOT / "sources"), help="articles folder (default: ./sources)")
    p.add_argument(
        "--serve-only",
        action="store_true",
        help="answer from the index as it is: no indexing of --sources at start, no upload or removal "
        "in the page (for the replicas of a deployment that one indexer keeps up to date)",
    )
    milvus_options(p)
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=os.environ.get("RAG_CONCURRENCY", "2"),
        help="questions answered at once (default 2, or $RAG_CONCURRENCY; BENCHMARKS.md, Reliability)",
    )
    answer_options(p)
    backend_option(p)
    args = p.parse_args(argv)
    from rag.errors import RagError
    from rag.pipeline import RAG, index_config

    try:  # every setting is checked before anything slow (indexing, models) starts
        auth = _auth(os.environ.get("RAG_AUTH", ""))
        base = Config().with_(**milvus_settings(args))
        config = index_config(args.index, base).with_(**answer_settings(args), embedding_backend=args.embedding_backend)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rag = RAG(args.index, config=config)
    try:
        if args.serve_only:
            if not rag.exists():
                print(
                    f"error: no index to serve in {args.milvus_uri or args.index}; build it with `rag index`",
                    file=sys.stderr,
                )
                return 1
        else:
            progress = progress_bar()
            try:
                stats = rag.index([args.sources], on_progress=progress)
            finally:
                progress.close()  # type: ignore[attr-defined]
            print_stats(stats, as_json=False)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if rag.config.rerank:  # load it now rather than on the first question
        print("loading the reranking model", file=sys.stderr)
        try:
            rag.reranker  # noqa: B018
        except RagError as exc:
            print(f"error: {exc} (or start with --no-rerank)", file=sys.stderr)
            return 1
    if args.host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print(f"warning: serving on {args.host} without a login; set RAG_AUTH=user:password", file=sys.stderr)
    demo = build_app(rag, Path(args.sources), concurrency=args.concurrency, manage=not args.serve_only)
    if args.share:  # Gradio's own server, for its share link: the chat and its /ask API only
        print("note: with --share, /api and /v1 are not served (start without it for them)", file=sys.stderr)
        demo.launch(server_name=args.host, server_port=args.port, share=True, auth=auth, **demo.launch_options)
        return 0
    serve(demo, rag, host=args.host, port=args.port, auth=auth, concurrency=args.concurrency)
    return 0


def serve(demo: Any, rag: Any, *, host: str, port: int, auth: tuple[str, str] | None, concurrency: int) -> None:
    """One server and port for the chat and every API (`rag.http_api`: /api/ask, /api/search,
    /v1/chat/completions, /v1/models), behind the same login."""
    import gradio as gr
    import uvicorn
    from fastapi import FastAPI

    from rag.http_api import install

    server = FastAPI(title="Ask your articles", docs_url="/api/docs", redoc_url=None)
    install(server, rag, auth=auth, concurrency=concurrency, host=host)
    gr.mount_gradio_app(server, demo, path="/", auth=auth, **demo.launch_options)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"serving on http://{shown}:{port} (chat), /api/ask, /api/search, /v1/chat/completions, /mcp", file=sys.stderr
    )
    uvicorn.run(server, host=host, port=port, log_level="warning")


def _auth(value: str) -> tuple[str, str] | None:
    """RAG_AUTH is `user:password`, or a path to a file holding that line."""
    if not value:
        return None
    if os.path.isfile(value):
        value = Path(value).read_text(encoding="utf-8").strip()
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError(
            "RAG_AUTH must be user:password (e.g. RAG_AUTH=alice:a-long-secret), or the path of a file "
            "holding that line; unset it to serve without a login on 127.0.0.1"
        )
    return user, password


if __name__ == "__main__":
    raise SystemExit(main())
