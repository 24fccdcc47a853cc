"""A client for any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp's server).

Standard library only. Streams tokens (server-sent events), applies a timeout, retries once on a
connection failure or a 429/5xx before any token arrived, and raises `LLMUnavailableError` with the
URL and the fix when the server cannot be reached. The API key goes in one header and nowhere else:
never in a message, a log line or `repr`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import LLMUnavailableError
from .llm import Prompt, TokenCallback

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class OpenAIChat:
    """Chat completions from `base_url` (e.g. "http://127.0.0.1:8080/v1").

    Args:
        base_url: the API root, ending in /v1 for most servers.
        model: the model name the server expects.
        api_key: sent as a Bearer token when given.
        timeout: seconds to wait for the connection and for each chunk of the stream.
        retry_delay: seconds before the one retry.
    """

    def __init__(
        self, base_url: str, model: str, *, api_key: str = "", timeout: float = 60.0, retry_delay: float = 1.0
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"OpenAI base URL must start with http:// or https:// (got {base_url!r})")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.name = f"openai:{model}"

    def __repr__(self) -> str:
        return f"OpenAIChat({self.base_url!r}, {self.model!r}, api_key={'***' if self._api_key else ''!r})"

    def generate(
        self, prompt: Prompt, *, max_tokens: int, stop: Sequence[str], on_token: TokenCallback | None = None
    ) -> str:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.instructions},
                {"role": "user", "content": prompt.user},
            ],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
        }
        if stop:
            body["stop"] = list(stop)[:4]  # the OpenAI API accepts at most four
        pieces: list[str] = []
        for piece in self._stream(body):
            pieces.append(piece)
            if on_token:
                on_token(piece)
        return "".join(pieces)

    def _stream(self, body: dict[str, Any]) -> Iterator[str]:
        url = f"{self.base_url}/chat/completions"
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = json.dumps(body).encode()
        for attempt in (1, 2):
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                response = urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310 - http(s) checked
            except urllib.error.HTTPError as e:
                detail = _error_detail(e)
                if e.code in RETRY_STATUS and attempt == 1:
                    time.sleep(self.retry_delay)
                    continue
                hint = " (check the API key: RAG_OPENAI_API_KEY)" if e.code in (401, 403) else ""
                raise LLMUnavailableError(f"{url} answered HTTP {e.code}: {detail}{hint}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                if attempt == 1:
                    time.sleep(self.retry_delay)
                    continue
                reason = getattr(e, "reason", e)
                raise LLMUnavailableError(
                    f"cannot reach the OpenAI-compatible server at {self.base_url} ({reason}); start it or "
                    "set --openai-base-url / RAG_OPENAI_BASE_URL to a running one"
                ) from None
            with response:
                yield from _events(response, url)
            return


def _events(response: Any, url: str) -> Iterator[str]:
    """Text pieces from a server-sent event stream (or one non-streamed JSON body)."""
    if "text/event-stream" not in (response.headers.get("Content-Type") or ""):
        payload = json.loads(response.read().decode("utf-8", "replace") or "{}")
        text = (payload.get("choices") or [{}])[0].get("message", {}).get("content") or ""
        if text:
            yield text
        return
    try:
        for raw in response:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            event = json.loads(data)
            if "error" in event:
                raise LLMUnavailableError(f"{url} reported an error mid-answer: {event['error']}")
            choices = event.get("choices") or [{}]
            piece = (choices[0].get("delta") or {}).get("content") or ""
            if piece:
                yield piece
    except TimeoutError:
        raise LLMUnavailableError(f"{url} stopped sending mid-answer (timeout)") from None


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(error.read().decode("utf-8", "replace"))
        message = payload.get("error", payload)
        return str(message.get("message", message) if isinstance(message, dict) else message)[:300]
    except (ValueError, OSError):
        return error.reason or ""
