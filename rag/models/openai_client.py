"""The `openai` answerer's client, on the maintained `openai` SDK: any OpenAI-compatible chat endpoint
(OpenAI, Ollama, vLLM, llama.cpp's server).

The SDK brings retries with exponential back-off (connection errors, 408/409/429/5xx), timeouts and
typed errors; they surface here as `LLMUnavailableError` naming the URL and the fix. Parameters
follow what the server accepts: `max_tokens` and `temperature` 0 first (what compatible servers
read), and when a server refuses one of them by name (OpenAI's reasoning models refuse both) the
client switches to `max_completion_tokens` or leaves `temperature` out, and remembers. The API key
is handed to the SDK and shown nowhere else: never in a message, a log line or `repr`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import LLMUnavailableError
from .llm import Prompt, TokenCallback

NO_KEY = "no-key"  # local servers take none; the SDK insists on one


class OpenAIChat:
    """Chat completions from `base_url` (e.g. "http://127.0.0.1:8080/v1").

    Args:
        base_url: the API root, ending in /v1 for most servers.
        model: the model name the server expects.
        api_key: sent as a Bearer token; default `$OPENAI_API_KEY`, else none.
        timeout: seconds to wait for a connection or a response (the SDK's timeout).
        max_retries: retries with exponential back-off on a connection error, 408, 409, 429 or 5xx.
    """

    def __init__(
        self, base_url: str, model: str, *, api_key: str = "", timeout: float = 60.0, max_retries: int = 2
    ) -> None:
        import openai

        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"OpenAI base URL must start with http:// or https:// (got {base_url!r})")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self._has_key = bool(api_key or os.environ.get("OPENAI_API_KEY"))
        self._client = openai.OpenAI(
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or NO_KEY,
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
        )
        self._params: dict[str, Any] = {"length": "max_tokens", "temperature": 0}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OpenAIChat({self.base_url!r}, {self.model!r}, api_key={'***' if self._has_key else ''!r})"

    def generate(
        self, prompt: Prompt, *, max_tokens: int, stop: Sequence[str], on_token: TokenCallback | None = None
    ) -> str:
        pieces: list[str] = []
        for piece in self._stream(prompt, max_tokens, list(stop)[:4]):  # the API takes at most four
            pieces.append(piece)
            if on_token:
                on_token(piece)
        return "".join(pieces)

    def _request(self, prompt: Prompt, max_tokens: int, stop: list[str]) -> dict[str, Any]:
        with self._lock:
            params = dict(self._params)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.instructions},
                {"role": "user", "content": prompt.user},
            ],
            "stream": True,
            params.pop("length"): max_tokens,
            **params,
        }
        if stop:
            request["stop"] = stop
        return request

    def _adapt(self, error: Any) -> bool:
        """Follow a 400 that refuses one of our parameters by name; False when it is not that."""
        text = f"{getattr(error, 'param', '') or ''} {getattr(error, 'message', '')}"
        with self._lock:
            if "max_tokens" in text and self._params["length"] == "max_tokens":
                self._params["length"] = "max_completion_tokens"
                return True
            if "temperature" in text and "temperature" in self._params:
                del self._params["temperature"]
                return True
        return False

    def _stream(self, prompt: Prompt, max_tokens: int, stop: list[str]) -> Iterator[str]:
        import openai

        for _ in range(3):  # at most one adaptation per parameter
            try:
                stream = self._client.chat.completions.create(**self._request(prompt, max_tokens, stop))
                break
            except openai.BadRequestError as e:
                if not self._adapt(e):
                    raise LLMUnavailableError(f"{self.base_url} refused the request: {_detail(e)}") from None
            except openai.APIError as e:
                raise self._unavailable(e) from None
        else:
            raise LLMUnavailableError(f"{self.base_url} refused every form of the request")
        try:
            with stream:
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except openai.APIError as e:
            raise LLMUnavailableError(f"{self.base_url} stopped mid-answer: {_detail(e)}") from None

    def _unavailable(self, error: Any) -> LLMUnavailableError:
        import openai

        if isinstance(error, openai.APITimeoutError):
            return LLMUnavailableError(f"{self.base_url} did not answer in time (timeout; raise Config.openai_timeout)")
        if isinstance(error, openai.APIConnectionError):
            return LLMUnavailableError(
                f"cannot reach the OpenAI-compatible server at {self.base_url} ({error.__cause__ or error}); "
                "start it or set --openai-base-url / RAG_OPENAI_BASE_URL to a running one"
            )
        status = getattr(error, "status_code", None)
        hint = " (check the API key: RAG_OPENAI_API_KEY or OPENAI_API_KEY)" if status in (401, 403) else ""
        return LLMUnavailableError(f"{self.base_url} answered HTTP {status}: {_detail(error)}{hint}")


def _detail(error: Any) -> str:
    """The server's own message, short."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body
        if isinstance(message, dict):
            message = message.get("message", message)
        return str(message)[:300]
    return str(getattr(error, "message", error))[:300]
