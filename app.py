"""The Gradio chat app: `python app.py` adds what is new or changed in `sources/` to the index (it
removes nothing), then serves the chat on 127.0.0.1:7860. Answers stream in, carry [n] markers tied to
a sources panel that shows each cited passage with the quoted span highlighted, and follow-up questions
use the conversation. The Articles panel lists, adds and removes articles. Article text is always
HTML-escaped: it is shown, never executed."""

from __future__ import annotations

import argparse
import html
import inspect
import os
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from rag.ingest.uploads import UPLOAD_TYPES
from rag.text.followup import message_text
from rag.text.terms import valid_text

ROOT = Path(__file__).resolve().parent
EXAMPLES = [
    "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?",
    "Combien de chercheurs sont capables de construire des modèles de pointe ?",
    "Pourquoi la levée de fonds de Databricks sert-elle surtout aux employés ?",
    "Pour combien Naveen Rao a-t-il vendu MosaicML ?",
]


def render_sources(answer: Any, min_support: float | None = None) -> str:
    """The sources panel: cited passages with the quote highlighted, or related passages, and how
    strongly the sources support an answer against the threshold `min_support`."""
    if answer is None:
        return "<div class='sources'><p>Les passages cités apparaîtront ici.</p></div>"
    parts = ["<div class='sources'>"]
    if min_support is not None:
        verdict = "atteint" if answer.support >= min_support else "non atteint"
        parts.append(
            f"<p class='meta' id='support'>Appui des sources : {answer.support:.2f} "
            f"(seuil {min_support:.2f} {verdict})</p>"
        )
    if answer.answered and answer.citations:
        if answer.confidence == "closest":
            parts.append(
                "<p class='closest-title' id='closest'><b>Passage le plus proche — pas une réponse directe</b> : "
                "les articles ne disent pas cela directement ; voici ce qui s’en approche le plus.</p>"
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
                f"<div class='citation' id='citation-{c.n}'><h4>[{c.n}] {html.escape(c.title)}</h4>"
                f"<p class='meta'>{_source_link(c.source, c.url)} · caractères {c.start}–{c.end} · "
                f"score {c.score:.3f}</p><blockquote>{passage}</blockquote></div>"
            )
        close = answer.close_hits()
        if close:
            parts.append(
                "<div class='close-call' id='close-call'><p class='close-title'><b>À vérifier aussi</b> : ce "
                "passage a obtenu un score proche de celui du passage cité, ou plus élevé ; la réponse peut "
                "s’y trouver.</p>"
            )
            parts.extend(_passage(h) for h in close)
            parts.append("</div>")
    else:
        title = (
            "Aucune phrase de la réponse n’est vérifiée dans ces passages consultés"
            if answer.answered
            else "Passages proches — pas une réponse"
        )
        parts.append(f"<p class='related-title'><b>{title}</b></p>")
        parts.extend(_passage(h) for h in answer.passages[:3])
    parts.append("</div>")
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


UNSUPPORTED_NOTE = "⚠ Non vérifié dans les sources"


def chat_text(answer: Any) -> str:
    """The assistant's message: the answer, then any sentence no source supports, marked as such."""
    lines = [answer.text]
    for sentence in answer.unsupported:
        lines.append(f"\n> {UNSUPPORTED_NOTE} : « {sentence} »")
    return "\n".join(lines)


REMOVED_FOLDER = ".removed"  # under sources/: hidden, so never indexed again, and recoverable


def add_articles(rag: Any, sources: Path, files: list[Any] | None, overwrite: bool, progress: Any = None) -> str:
    """Save uploaded files under `sources` and index them (only them: the other articles stay as
    they are), reporting progress as `progress((done, total), desc=...)`; a report of what
    happened to each file: added, updated, unchanged, or refused and why."""
    from rag.ingest.uploads import save_upload

    if not files:
        return "Choisissez d’abord un ou plusieurs fichiers (.md, .txt, .html, .pdf)."
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
                progress((p.documents, p.total), desc=f"Indexation ({p.embedded} passages calculés)", unit="articles")

        stats = rag.index(saved, on_progress=report)
        bad = {s.source: s.reason for s in stats.skipped}
        refused = len(files) - len(saved) + sum(path.name in bad for path in saved)
        for path in saved:
            name = html.escape(path.name)
            if path.name in bad:
                path.unlink(missing_ok=True)  # unreadable: not left in sources/ to be skipped forever
                lines.append(f"- ✗ {name} : illisible ({html.escape(bad[path.name])}), non ajouté")
            elif path.name in stats.added_ids:
                lines.append(f"- ✓ {name} ajouté et indexé")
            elif path.name in stats.changed_ids:
                lines.append(f"- ✓ {name} mis à jour et réindexé")
            else:
                lines.append(f"- ✓ {name} inchangé (déjà indexé tel quel)")
        lines.append(
            f"\n{stats.added} ajouté(s), {stats.changed} mis à jour, {refused} refusé(s) ; "
            f"index : {stats.documents} articles, {stats.chunks} passages."
        )
    return "\n".join(lines)


def remove_articles(rag: Any, sources: Path, doc_ids: list[str]) -> str:
    """Remove articles from the index; a file of the sources folder goes to `sources/.removed/`
    (kept, but never indexed again at start-up). A report of what was done."""
    if not doc_ids:
        return "Choisissez d’abord un ou plusieurs articles."
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
            note = f" (fichier déplacé dans {html.escape(REMOVED_FOLDER)}/)"
        lines.append(f"- ✓ {html.escape(doc_id)} retiré{note}")
    lines.append(f"\nIndex : {stats.documents} articles, {stats.chunks} passages.")
    return "\n".join(lines)


def render_articles(docs: list[Any]) -> str:
    """The indexed articles as a table (HTML-escaped)."""
    if not docs:
        return "<p>Aucun article indexé.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(d.title)}</td><td><code>{html.escape(d.doc_id)}</code></td>"
        f"<td>{d.lang}</td><td>{d.chunks}</td><td>{html.escape(d.indexed[:16].replace('T', ' '))}</td></tr>"
        for d in docs
    )
    return (
        f"<table class='articles' id='articles-table'><caption>{len(docs)} articles indexés</caption>"
        "<thead><tr><th scope='col'>Titre</th><th scope='col'>Identifiant</th><th scope='col'>Langue</th>"
        f"<th scope='col'>Passages</th><th scope='col'>Indexé le</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def build_app(rag: Any, sources: Path, *, concurrency: int = 2) -> Any:
    import gradio as gr

    from rag.config import ANSWERERS

    def respond(message: str, history: list[dict[str, Any]], k: int, answerer_name: str, min_support: float):  # type: ignore[no-untyped-def]
        message = valid_text(message or "").strip()
        if not message:
            raise gr.Error("Écrivez une question. / Type a question.")
        turns = [{"role": m["role"], "content": message_text(m["content"])} for m in history]
        shown = history + [{"role": "user", "content": message}, {"role": "assistant", "content": "…"}]
        yield shown, gr.update(), ""
        try:
            kwargs = {"history": turns, "k": int(k), "answerer": answerer_name, "min_support": float(min_support)}
            text = ""
            with closing(rag.ask_stream(message[:4000], **kwargs)) as stream:  # Stop closes it
                for item in stream:
                    if isinstance(item, str):
                        text += item
                        shown[-1] = {"role": "assistant", "content": text}
                        yield shown, gr.update(), ""
                    else:
                        shown[-1] = {"role": "assistant", "content": chat_text(item)}
                        yield shown, render_sources(item, float(min_support)), ""
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            raise gr.Error(f"{type(exc).__name__}: {exc}") from None

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
            not isinstance(history, list) or not all(isinstance(t, dict) and "role" in t for t in history)
        ):
            raise gr.Error('history must be a list of {"role": "user"|"assistant", "content": "..."}')
        turns = [{"role": str(t["role"]), "content": message_text(t.get("content", ""))} for t in history or []]
        options = {"k": int(k), "answerer": answerer or None, "history": turns, "min_support": min_support}
        text = ""
        try:
            with closing(rag.ask_stream(valid_text(question)[:4000], **options)) as stream:
                for item in stream:
                    if isinstance(item, str):
                        text += item
                        yield {"text": text, "answer": None}
                    else:
                        yield {"text": item.text, "answer": item.to_dict()}
        except Exception as exc:  # noqa: BLE001 - RAG.ask names a bad answerer or threshold
            raise gr.Error(f"{type(exc).__name__}: {exc}") from None

    def articles() -> tuple[str, Any]:
        try:
            docs = rag.documents()
        except Exception as exc:  # noqa: BLE001 - a damaged index: said here, and by every answer
            return f"<p class='meta'>✗ {html.escape(f'{type(exc).__name__}: {exc}')}</p>", gr.update(choices=[])
        choices = [(f"{d.title} ({d.doc_id})", d.doc_id) for d in docs]
        return render_articles(docs), gr.update(choices=choices, value=[])

    def upload(files: list[Any] | None, overwrite: bool, progress=gr.Progress()):  # type: ignore[no-untyped-def]  # noqa: B008
        try:
            report = add_articles(rag, sources, files, overwrite, progress)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            report = f"✗ {html.escape(f'{type(exc).__name__}: {exc}')}"
        return report, None, *articles()

    def ask_removal(ids: list[str] | None) -> tuple[str, Any]:
        if not ids:
            return "Choisissez d’abord un ou plusieurs articles.", gr.update(visible=False)
        names = ", ".join(html.escape(i) for i in ids)
        return f"Retirer {len(ids)} article(s) de l’index : {names} ?", gr.update(visible=True)

    def remove(ids: list[str] | None) -> tuple[str, Any, str, Any]:
        try:
            report = remove_articles(rag, sources, list(ids or []))
        except Exception as exc:  # noqa: BLE001
            report = f"✗ {html.escape(f'{type(exc).__name__}: {exc}')}"
        return report, gr.update(visible=False), *articles()

    css = (
        "mark{background:#ffe066;padding:0 2px} .sources blockquote{font-size:.9em} .meta{color:#666;font-size:.8em}"
        " .close-call{border-top:1px solid #ccc;margin-top:1em;padding-top:.5em}"
        " .close-title{font-size:.9em;color:#8a5a00} .closest-title{font-size:.9em;color:#8a5a00}"
        " .articles{font-size:.85em;width:100%} .articles caption{text-align:left;font-weight:bold}"
        " .articles td,.articles th{padding:2px 6px;text-align:left;vertical-align:top}"
    )
    with gr.Blocks(title="Questions sur vos articles") as demo:
        gr.Markdown("## Questions sur vos articles\nChaque réponse cite le passage exact d’où elle vient.")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=480)
                box = gr.Textbox(label="Votre question", placeholder="Posez une question sur les articles…")
                with gr.Row():
                    send = gr.Button("Envoyer", variant="primary", elem_id="send")
                    stop = gr.Button("Arrêter", variant="stop", elem_id="stop")
                    clear = gr.Button("Effacer la conversation", elem_id="clear")
                gr.Examples(EXAMPLES, inputs=box)
            with gr.Column(scale=2):
                sources_html = gr.HTML(render_sources(None), label="Sources", elem_id="sources")
                with gr.Accordion("Réglages", open=False):
                    k = gr.Slider(1, 10, value=rag.config.k, step=1, label="Passages lus (k)")
                    answerer = gr.Dropdown(
                        list(ANSWERERS),
                        value=rag.config.answerer,
                        label="Rédaction de la réponse",
                        info="extractive : cite les phrases exactes (recommandé) ; local : Gemma 3 270M ; "
                        "openai : serveur compatible OpenAI",
                        elem_id="answerer",
                    )
                    min_support = gr.Slider(
                        0,
                        1,
                        value=rag.config.min_support,
                        step=0.01,
                        label="Appui exigé pour répondre",
                        info="Plus haut : refuse plus souvent quand les articles ne disent pas la réponse, mais "
                        "répond moins souvent (BENCHMARKS.md, « Questions the sources almost answer »)",
                        elem_id="min-support",
                    )
                with gr.Accordion("Articles", open=False, elem_id="articles-panel"):
                    articles_html = gr.HTML(elem_id="articles")
                    files = gr.File(
                        label=f"Ajouter : fichiers {', '.join(UPLOAD_TYPES)} (10 Mo max. chacun)",
                        file_count="multiple",
                        file_types=list(UPLOAD_TYPES),
                        elem_id="upload",
                    )
                    overwrite = gr.Checkbox(label="Remplacer les fichiers existants", value=False)
                    add = gr.Button("Ajouter", elem_id="add")
                    status = gr.Markdown(elem_id="upload-status")
                    chosen = gr.Dropdown([], multiselect=True, label="Retirer des articles", elem_id="remove-choice")
                    ask_remove = gr.Button("Retirer…", elem_id="remove", variant="stop")
                    with gr.Group(visible=False, elem_id="remove-confirm") as confirm_box:
                        confirm_text = gr.Markdown(elem_id="remove-question")
                        with gr.Row():
                            confirm = gr.Button("Confirmer le retrait", elem_id="remove-yes", variant="stop")
                            cancel = gr.Button("Annuler", elem_id="remove-no")
                    removal_status = gr.Markdown(elem_id="remove-status")
        inputs = [box, chat, k, answerer, min_support]
        # One pool of answer slots shared by the chat and the API: Gradio's default (one at a time
        # per event) made 16 users queue behind each other; models hold their own locks.
        limit = {"concurrency_limit": concurrency, "concurrency_id": "answer"}
        asked = [
            send.click(respond, inputs, [chat, sources_html, box], api_visibility="private", **limit),
            box.submit(respond, inputs, [chat, sources_html, box], api_visibility="private", **limit),
        ]
        stop.click(None, None, None, cancels=asked, api_visibility="private")
        clear.click(lambda: ([], render_sources(None), ""), None, [chat, sources_html, box], api_visibility="private")
        add.click(upload, [files, overwrite], [status, files, articles_html, chosen], api_visibility="private")
        ask_remove.click(ask_removal, chosen, [confirm_text, confirm_box], api_visibility="private")
        cancel.click(lambda: gr.update(visible=False), None, confirm_box, api_visibility="private")
        confirm.click(remove, chosen, [removal_status, confirm_box, articles_html, chosen], api_visibility="private")
        demo.load(articles, None, [articles_html, chosen], api_visibility="private")
        gr.api(_typed(ask), api_name="ask", **limit)
        gr.api(_typed(ask_stream), api_name="ask_stream", **limit)
    demo.css_for_launch = css  # type: ignore[attr-defined]
    return demo


def _typed(fn: Any) -> Any:
    """`fn` with its annotations evaluated: `gr.api` reads the return type from the signature, where
    `from __future__ import annotations` leaves a string."""
    fn.__signature__ = inspect.signature(fn, eval_str=True)
    return fn


def main(argv: list[str] | None = None) -> int:
    from rag.cli.commands import print_stats, progress_bar
    from rag.cli.options import answer_options, answer_settings, backend_option, port_number, positive_int

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
        config = index_config(args.index).with_(**answer_settings(args), embedding_backend=args.embedding_backend)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rag = RAG(args.index, config=config)
    progress = progress_bar()
    try:
        stats = rag.index([args.sources], on_progress=progress)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        progress.close()  # type: ignore[attr-defined]
    print_stats(stats, as_json=False)
    if rag.config.rerank:  # load it now rather than on the first question
        print("loading the reranking model", file=sys.stderr)
        try:
            rag.reranker  # noqa: B018
        except RagError as exc:
            print(f"error: {exc} (or start with --no-rerank)", file=sys.stderr)
            return 1
    if args.host not in ("127.0.0.1", "localhost", "::1") and not auth:
        print(f"warning: serving on {args.host} without a login; set RAG_AUTH=user:password", file=sys.stderr)
    demo = build_app(rag, Path(args.sources), concurrency=args.concurrency)
    if args.share:  # Gradio's own server, for its share link: the chat and its /ask API only
        print("note: with --share, /api and /v1 are not served (start without it for them)", file=sys.stderr)
        demo.launch(server_name=args.host, server_port=args.port, share=True, auth=auth, css=demo.css_for_launch)
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
    gr.mount_gradio_app(server, demo, path="/", auth=auth, css=demo.css_for_launch)
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
