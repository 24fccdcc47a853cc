"""Plain HTTP endpoints beside the web app, on its server and port, behind the same login:

    POST /api/ask               {"question", "history"?, "k"?, "answerer"?, "min_support"?} -> the Answer as JSON
    POST /api/search            {"query", "k"?, "mode"?} -> the hits as JSON
    GET  /v1/models             the OpenAI-compatible model list (one model: the articles)
    POST /v1/chat/completions   OpenAI-compatible chat (streaming or not): the cited answer as the
                                reply, with "citations", "confidence" and "answer" beside it
    /mcp                        MCP tools `ask` and `search` (Streamable HTTP; rag.mcp_server)

With a login (`RAG_AUTH=user:password`), each request needs `Authorization: Basic ...` or
`Authorization: Bearer user:password` (what the `openai` SDK sends as its API key). Errors are JSON
`{"error": {"message", "type"}}` with the HTTP status, in the OpenAI shape. Needs FastAPI (installed
with the app's Gradio); the core never imports this module.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from .errors import RagError
from .pipeline import RAG
from .text.followup import message_text
from .text.terms import question_text

MODEL_ID = "rag-articles"


class Turn(BaseModel):
    role: str
    content: Any = ""


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    history: list[Turn] = []
    k: int | None = Field(default=None, ge=1, le=50)
    answerer: str | None = None
    min_support: float | None = Field(default=None, ge=0.0, le=1.0)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1)
    k: int = Field(default=5, ge=1, le=50)
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens...: accepted, not used
    model: str = MODEL_ID
    messages: list[Turn] = Field(min_length=1)
    stream: bool = False


def install(
    app: FastAPI, rag: RAG, *, auth: tuple[str, str] | None, concurrency: int = 2, host: str = "127.0.0.1"
) -> None:
    """Add the endpoints, and the MCP tools at /mcp, to `app` (the one the Gradio app is mounted on).
    They share `concurrency` answer slots."""
    slots = threading.BoundedSemaphore(concurrency)
    app.include_router(router(rag, auth=auth, slots=slots))
    install_mcp(app, rag, auth=auth, host=host, slots=slots)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return _error(400, f"invalid request ({problems})", "invalid_request_error")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = "authentication_error" if exc.status_code == 401 else "invalid_request_error"
        response = _error(exc.status_code, str(exc.detail), kind)
        if exc.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="rag"'
        return response


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


LOGIN_REQUIRED = "login required: send `Authorization: Bearer user:password` or HTTP Basic"


def authorized(header: str, auth: tuple[str, str] | None) -> bool:
    """Whether an Authorization header carries the login (always, when there is none)."""
    if auth is None:
        return True
    scheme, _, value = header.partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            given = ""
    return hmac.compare_digest(given.encode("utf-8", "replace"), f"{auth[0]}:{auth[1]}".encode())


class _LoggedIn:
    """An ASGI app behind the login: 401 in the API's error shape without it."""

    def __init__(self, app: Any, auth: tuple[str, str] | None) -> None:
        self.app, self.auth = app, auth

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if authorized(headers.get("authorization", ""), self.auth):
            await self.app(scope, receive, send)
            return
        response = _error(401, LOGIN_REQUIRED, "authentication_error")
        response.headers["WWW-Authenticate"] = 'Basic realm="rag"'
        await response(scope, receive, send)


def install_mcp(app: FastAPI, rag: RAG, *, auth: tuple[str, str] | None, host: str, slots: threading.Semaphore) -> None:
    """MCP tools `ask` and `search` at /mcp (`rag.mcp_server`), behind the login."""
    from starlette.routing import Route

    from .mcp_server import build

    endpoint, running = build(rag, host=host, slots=slots)
    app.router.routes.append(Route("/mcp", _LoggedIn(endpoint, auth), methods=["GET", "POST", "DELETE"]))
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with outer(a) as state, running():
            yield state

    app.router.lifespan_context = lifespan


def router(rag: RAG, *, auth: tuple[str, str] | None, slots: threading.Semaphore) -> APIRouter:
    """The endpoints; `slots` bounds the answers and searches computed at once through them."""

    def login(request: Request) -> None:
        if not authorized(request.headers.get("authorization", ""), auth):
            raise HTTPException(401, LOGIN_REQUIRED)

    api = APIRouter(dependencies=[Depends(login)])

    def stream(question: str, history: list[dict[str, str]], **options: Any) -> Iterator[Any]:
        """Pieces of the answer, then the Answer. RAG.ask refuses an unknown answerer or a bad
        threshold (ValueError: 400)."""
        with slots:
            try:
                yield from rag.ask_stream(question_text(question), history=history, **options)
            except (RagError, ValueError) as exc:
                raise HTTPException(400 if isinstance(exc, ValueError) else 503, str(exc)) from None

    def ask(question: str, history: list[dict[str, str]], **options: Any) -> Any:
        *_, answer = stream(question, history, **options)
        return answer

    @api.post("/api/ask")
    def api_ask(body: AskRequest) -> dict[str, Any]:
        history = [{"role": t.role, "content": message_text(t.content)} for t in body.history]
        options = {"k": body.k, "answerer": body.answerer or None, "min_support": body.min_support}
        answer = ask(body.question, history, **options)
        return answer.to_dict()  # type: ignore[no-any-return]

    @api.post("/api/search")
    def api_search(body: SearchRequest) -> list[dict[str, Any]]:
        with slots:
            try:
                hits = rag.search(question_text(body.query), k=body.k, mode=body.mode)
            except (RagError, ValueError) as exc:
                raise HTTPException(503, str(exc)) from None
        return [h.to_dict() for h in hits]

    @api.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "rag"}]}

    @api.post("/v1/chat/completions", response_model=None)
    def chat(body: ChatRequest) -> dict[str, Any] | StreamingResponse:
        turns = [
            {"role": t.role, "content": message_text(t.content)}
            for t in body.messages
            if t.role in ("user", "assistant")
        ]
        if not turns or turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
            raise HTTPException(400, "the last message must be the user's question (role 'user', non-empty)")
        question, history = turns[-1]["content"], turns[:-1]
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not body.stream:
            answer = ask(question, history)
            return {
                "id": reply_id,
                "object": "chat.completion",
                "created": created,
                "model": body.model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                **_extras(answer),
            }
        events = _stream(stream, question, history, reply_id, created, body.model)
        return StreamingResponse(events, media_type="text/event-stream")

    return api


def _extras(answer: Any) -> dict[str, Any]:
    """What an OpenAI reply does not carry: the citations (offsets into the documents), how sure the
    answer is, and the whole Answer."""
    d = answer.to_dict()
    return {"citations": d["citations"], "confidence": answer.confidence, "answered": answer.answered, "answer": d}


def _stream(
    stream: Any, question: str, history: list[dict[str, str]], reply_id: str, created: int, model: str
) -> Iterator[str]:
    """Server-sent events in the OpenAI chunk shape: the text as it is written, then a last chunk with
    the verified answer's extras (its text may differ from a generated draft), then [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        with closing(stream(question, history)) as items:  # closed on a client disconnect too
            for item in items:
                if isinstance(item, str):
                    yield chunk({"content": item})
                else:
                    yield chunk({}, "stop", **_extras(item))
    except HTTPException as exc:
        yield f"data: {json.dumps({'error': {'message': exc.detail, 'type': 'server_error'}})}\n\n"
    yield "data: [DONE]\n\n"
