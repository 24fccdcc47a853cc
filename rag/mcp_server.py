"""MCP tools `ask` and `search` for AI assistants, served over MCP's Streamable HTTP transport at
`/mcp` on the app's server and port, behind the same login as every other endpoint.

Built on the `mcp` SDK's `MCPServer` (stateless: any replica can take any request). `ask` returns
the cited answer as text an assistant can quote, and the whole Answer (citations with their offsets
into the documents) as structured content; `search` returns the passages. Mounted by
`rag.http_api.install`; the core never imports this module.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, TextContent

from .pipeline import RAG
from .text.followup import message_text
from .text.terms import question_text

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def answer_text(answer: Any) -> str:
    """The answer, then each citation's quote and where it comes from: what an assistant reads."""
    lines = [answer.text]
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            lines.append(f'[{c.n}] "{c.quote}" ({c.title}, {c.source}, characters {c.start}-{c.end})')
    return "\n".join(lines)


def build(
    rag: RAG, *, host: str = "127.0.0.1", slots: threading.Semaphore | None = None
) -> tuple[Any, Callable[[], contextlib.AbstractAsyncContextManager[None]]]:
    """The MCP endpoint as an ASGI app, and the context that must run while it serves (the
    session manager's task group). `slots` bounds the answers and searches computed at once
    (the app's, shared with its other endpoints)."""
    slots = slots or threading.BoundedSemaphore(2)
    server: MCPServer[Any] = MCPServer(
        "rag-articles",
        instructions="Answers questions from the user's collection of articles, quoting the exact passages. "
        "When the articles do not contain the answer, `ask` says so (answered: false): do not invent one.",
    )

    @server.tool()
    def ask(question: str, history: list[dict[str, str]] | None = None, k: int | None = None) -> CallToolResult:
        """Answer a question from the articles, with citations: every claim points at the exact quoted
        span of an article. Says so when the articles do not contain the answer.

        Args:
            question: the question, in French or English.
            history: earlier turns of the conversation, [{"role": "user"|"assistant", "content": "..."}],
                so a follow-up question ("and Google?") is understood.
            k: how many passages to read (default 5).
        """
        if not question.strip():
            raise ValueError("question must be a non-empty string")
        turns = [{"role": str(t.get("role", "")), "content": message_text(t.get("content", ""))} for t in history or []]
        with slots:
            answer = rag.ask(question_text(question), history=turns, k=k)
        return CallToolResult(
            content=[TextContent(type="text", text=answer_text(answer))], structured_content=answer.to_dict()
        )

    @server.tool()
    def search(query: str, k: int = 5) -> CallToolResult:
        """Find the passages of the articles closest to a query (hybrid keyword and meaning search),
        best first, each with its document, offsets and score.

        Args:
            query: what to look for.
            k: how many passages (1-50).
        """
        if not query.strip():
            raise ValueError("query must be a non-empty string")
        if not 1 <= k <= 50:
            raise ValueError(f"k must be between 1 and 50 (got {k})")
        with slots:
            hits = rag.search(question_text(query), k=k)
        text = "\n\n".join(f"[{i}] {h.chunk.title} ({h.source}): {h.chunk.text}" for i, h in enumerate(hits, 1))
        return CallToolResult(
            content=[TextContent(type="text", text=text or "No passage found.")],
            structured_content={"hits": [h.to_dict() for h in hits]},
        )

    # Browsers on other sites must not reach a loopback server through DNS rebinding; on a public
    # address the login protects it and the Host header is the server's own name.
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=host in LOOPBACK,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )
    logging.getLogger("mcp").setLevel(logging.WARNING)  # not a line per session on the console
    server.streamable_http_app(stateless_http=True, json_response=True, transport_security=security, host=host)
    manager = server.session_manager

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[None]:
        async with manager.run():
            yield

    return manager.handle_request, running
