"""The HTTP endpoints beside the chat (`rag.http_api`, `rag.mcp_server`), through real clients against
the running app with a login: `requests` for the JSON endpoints, the `openai` SDK for the
OpenAI-compatible ones (plain and streaming), the `mcp` client SDK for the MCP tools. Every citation
is checked against the indexed document's text."""

from __future__ import annotations

import shutil
import sys
from typing import Any

import pytest

from .conftest import ROOT, free_port, serve

pytestmark = pytest.mark.slow
LOGIN = ("alice", "a-long-secret")
QUESTION = "Combien Google a-t-il payé pour faire revenir Noam Shazeer ?"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, the index's documents by id) for the app on a free port with RAG_AUTH set."""
    from rag.pipeline import RAG

    work = tmp_path_factory.mktemp("api")
    shutil.copytree(ROOT / "sources", work / "sources")
    port = free_port()
    cmd = [
        sys.executable,
        "app.py",
        "--port",
        str(port),
        "--index",
        str(work / "index"),
        "--sources",
        str(work / "sources"),
    ]
    with serve(cmd, port, work / "app.log", env={"RAG_AUTH": ":".join(LOGIN)}):
        yield f"http://127.0.0.1:{port}", RAG(work / "index").current().documents


def _check(citations, documents):
    assert citations
    for c in citations:
        assert documents[c["doc_id"]].text[c["start"] : c["end"]] == c["quote"]


def test_json_ask_and_search_with_the_login(served):
    import requests

    url, documents = served
    r = requests.post(f"{url}/api/ask", json={"question": QUESTION}, auth=LOGIN, timeout=300)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["answered"] and "2,7 milliards" in answer["text"] and answer["confidence"] == "sure"
    _check(answer["citations"], documents)
    follow = requests.post(
        f"{url}/api/ask",
        json={
            "question": "Et pour Character.AI, qu’a-t-il obtenu ?",
            "history": [{"role": "user", "content": QUESTION}],
            "k": 3,
        },
        auth=LOGIN,
        timeout=300,
    ).json()
    assert follow["lang"] == "fr" and "Character" in follow["query"]
    hits = requests.post(f"{url}/api/search", json={"query": "LeBron James", "k": 2}, auth=LOGIN, timeout=300).json()
    assert len(hits) == 2 and all(documents[h["chunk"]["doc_id"]] for h in hits)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/ask", {"question": QUESTION}),
        ("/api/search", {"query": "x"}),
        ("/v1/chat/completions", {"messages": []}),
        ("/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    ],
)
def test_every_endpoint_refuses_without_the_login(served, path, body):
    import requests

    url, _ = served
    for auth in (None, ("alice", "wrong")):
        r = requests.post(f"{url}{path}", json=body, auth=auth, timeout=60)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert requests.get(f"{url}/v1/models", timeout=60).status_code == 401


def test_bad_requests_get_a_message_naming_the_field(served):
    import requests

    url, _ = served
    for body, words in (({"question": ""}, "question"), ({"question": "x", "k": 0}, "k"), ({"q": "x"}, "question")):
        r = requests.post(f"{url}/api/ask", json=body, auth=LOGIN, timeout=60)
        assert r.status_code == 400 and words in r.json()["error"]["message"], r.text
    r = requests.post(f"{url}/api/ask", json={"question": "x", "answerer": "gpt"}, auth=LOGIN, timeout=60)
    assert r.status_code == 400 and "unknown answerer 'gpt'" in r.json()["error"]["message"]


def test_the_openai_sdk_gets_the_cited_answer_plain_and_streamed(served):
    import openai

    url, documents = served
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=":".join(LOGIN), max_retries=0)
    assert [m.id for m in client.models.list()] == ["rag-articles"]
    reply = client.chat.completions.create(model="rag-articles", messages=[{"role": "user", "content": QUESTION}])
    assert "2,7 milliards" in reply.choices[0].message.content and reply.choices[0].finish_reason == "stop"
    extra = reply.model_extra
    assert extra["confidence"] == "sure" and extra["answered"]
    _check(extra["citations"], documents)

    text, last = "", None
    for chunk in client.chat.completions.create(
        model="rag-articles", messages=[{"role": "user", "content": QUESTION}], stream=True
    ):
        text += chunk.choices[0].delta.content or ""
        last = chunk
    assert text == reply.choices[0].message.content and last.choices[0].finish_reason == "stop"
    _check(last.model_extra["citations"], documents)

    refused = client.chat.completions.create(
        model="rag-articles", messages=[{"role": "user", "content": "Quelle est la recette de la tarte Tatin ?"}]
    )
    assert refused.model_extra["confidence"] == "none" and refused.model_extra["citations"] == []
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{url}/v1", api_key="alice:wrong", max_retries=0).models.list()


def test_the_mcp_client_calls_ask_and_search(served):
    import anyio
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.exceptions import MCPError

    url, documents = served

    async def session_calls(auth: str | None) -> tuple[list[str], Any, Any, Any]:
        headers = {"Authorization": f"Bearer {auth}"} if auth else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=300) as http,
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = [t.name for t in (await session.list_tools()).tools]
            answer = await session.call_tool("ask", {"question": QUESTION})
            refusal = await session.call_tool("ask", {"question": "Quelle est la recette de la tarte Tatin ?"})
            hits = await session.call_tool("search", {"query": "LeBron James", "k": 2})
            return tools, answer, refusal, hits

    tools, answer, refusal, hits = anyio.run(session_calls, ":".join(LOGIN))
    assert {"ask", "search"} <= set(tools)
    assert not answer.is_error and "2,7 milliards" in answer.content[0].text
    assert answer.structured_content["answered"] and answer.structured_content["confidence"] == "sure"
    _check(answer.structured_content["citations"], documents)
    assert f'"{answer.structured_content["citations"][0]["quote"]}"' in answer.content[0].text  # quoted for the reader
    assert not refusal.structured_content["answered"] and refusal.structured_content["citations"] == []
    assert len(hits.structured_content["hits"]) == 2
    for auth in (None, "alice:wrong"):  # the 401 itself: test_every_endpoint_refuses_without_the_login
        with pytest.raises(ExceptionGroup) as refused:
            anyio.run(session_calls, auth)
        assert refused.group_contains(MCPError)


def test_gradio_client_streams_the_typed_endpoint(served):
    from gradio_client import Client

    url, documents = served
    client = Client(url, auth=LOGIN, verbose=False)
    job = client.submit(QUESTION, 5, "local", api_name="/ask_stream")
    updates = list(job)
    assert len(updates) >= 3 and all(u["answer"] is None for u in updates[:-1])  # the text as it is written
    assert all(updates[i]["text"].startswith(updates[i - 1]["text"]) for i in range(1, len(updates) - 1))
    final = updates[-1]["answer"]
    assert final["answerer"].startswith("llama.cpp:") and final["text"] == updates[-1]["text"]
    if final["citations"]:
        _check(final["citations"], documents)
    plain = client.predict(QUESTION, api_name="/ask")
    assert plain["answered"] and "2,7 milliards" in plain["text"]
    _check(plain["citations"], documents)
    with pytest.raises(Exception, match="question must be a non-empty string"):
        client.predict("  ", api_name="/ask")
    with pytest.raises(ValueError, match="(?i)login|auth|401"):
        Client(url, verbose=False)
