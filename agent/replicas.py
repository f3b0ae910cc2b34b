"""Several replicas of one model (OpenAI-compatible base URLs) behind one client.

A session sticks to one replica, so that vLLM's prefix cache keeps hitting: once the
session's id is known (`bind`), its replica is the first healthy one in rendezvous order
(highest sha256 of id + URL), a stable choice that moves only the sessions of a replica
that leaves. Before that (model listing, the tool-call probe) the first healthy one in the
configured order answers. A request that fails for a reason another server can fix (the
server unreachable, a 5xx or 429, the stream cut mid-way) marks the replica dead, moves the
session to the next replica in its order that answers `GET /models`, says so
(`on_failover`), and sends the same request again; a refusal of the request itself (a 400,
a prompt too long) is not retried anywhere. When no other replica answers, the session's
replica is tried again `retries` times with backoff, as with one server.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx2

from agent.errors import ContextOverflow, ModelUnavailable
from agent.messages import Message, ModelTurn
from agent.model_client import (
    BACKOFF_MAX_S,
    BACKOFF_S,
    OnText,
    OpenAIModelClient,
    Samples,
    T,
    ToolChoice,
    retryable,
)

HEALTH_TIMEOUT_S = 3.0
OnFailover = Callable[[str, str, str], None]  # (from URL, to URL, why)
log = logging.getLogger(__name__)


def rendezvous(key: str, urls: list[str]) -> list[str]:
    """`urls` in this key's order of preference (highest random weight first)."""
    return sorted(
        urls, key=lambda url: hashlib.sha256(f"{key}\n{url}".encode()).digest(), reverse=True
    )


def health_problem(url: str, api_key: str, timeout_s: float = HEALTH_TIMEOUT_S) -> str | None:
    """None when `GET {url}/models` answers 200 within `timeout_s`; else what went wrong."""
    try:
        with httpx2.Client(trust_env=False, timeout=timeout_s) as http:
            answer = http.get(
                url.rstrip("/") + "/models", headers={"authorization": f"Bearer {api_key}"}
            )
    except httpx2.HTTPError as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return None if answer.status_code == 200 else f"GET /models answered {answer.status_code}"


class ReplicatedModelClient:
    """The `ModelClient` of a session served by several replicas of the same model."""

    def __init__(
        self,
        urls: list[str],
        model: str,
        api_key: str,
        timeout_s: float,
        retries: int,
        on_failover: OnFailover | None = None,
        health_timeout_s: float = HEALTH_TIMEOUT_S,
    ) -> None:
        if len(set(urls)) != len(urls) or not urls:
            raise ValueError(f"replicas must be distinct and at least one: {urls}")
        self.urls = list(urls)
        self.api_key = api_key
        self.retries = retries
        self.on_failover = on_failover
        self.health_timeout_s = health_timeout_s
        # each replica fails at once: the next replica, not a wait, is the first remedy
        self._clients = {url: OpenAIModelClient(url, model, api_key, timeout_s, 0) for url in urls}
        self.dead: dict[str, str] = {}  # replica -> why it was left
        self.key = ""
        self.base_url = self._first_healthy(self.urls, skip="")

    # what the loop and the probe see of one client ------------------------------------
    @property
    def model(self) -> str:
        return self._clients[self.urls[0]].model

    @model.setter
    def model(self, name: str) -> None:
        for client in self._clients.values():
            client.model = name

    @property
    def sampling(self) -> dict[str, float]:
        return self._clients[self.urls[0]].sampling

    @sampling.setter
    def sampling(self, values: dict[str, float]) -> None:
        for client in self._clients.values():
            client.sampling = dict(values)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def bind(self, key: str) -> str:
        """Stick to the session `key`'s replica (the first healthy one in its order)."""
        self.key = key
        self.base_url = self._first_healthy(rendezvous(key, self.urls), skip="")
        log.info("session %s uses model replica %s", key, self.base_url)
        return self.base_url

    def list_models(self) -> list[dict[str, Any]]:
        return self._failing_over(lambda client: client.list_models())

    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        tool_choice: ToolChoice,
        on_text: OnText | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> ModelTurn:
        shown: list[str] = []

        def show(text: str) -> None:
            shown.append(text)
            if on_text is not None:
                on_text(text)

        def call(client: OpenAIModelClient) -> ModelTurn:
            # once text was shown, a retry elsewhere is not streamed (no text twice)
            stream = show if on_text is not None and not shown else None
            return client.complete(messages, tools, tool_choice, stream, max_tokens, temperature)

        return self._failing_over(call)

    def samples(
        self, messages: list[Message], n: int, temperature: float, max_tokens: int
    ) -> Samples:
        return self._failing_over(
            lambda client: client.samples(messages, n, temperature, max_tokens)
        )

    # failover ----------------------------------------------------------------------
    def _order(self) -> list[str]:
        return rendezvous(self.key, self.urls) if self.key else self.urls

    def _first_healthy(self, order: list[str], skip: str) -> str:
        """The first replica in `order` (not `skip`) whose `GET /models` answers; with none
        answering, the first in order that is not `skip` (its request will say why)."""
        for url in order:
            if url == skip:
                continue
            problem = health_problem(url, self.api_key, self.health_timeout_s)
            if problem is None:
                self.dead.pop(url, None)
                return url
            self.dead[url] = problem
        return next((url for url in order if url != skip), order[0])

    def _failing_over(self, request: Callable[[OpenAIModelClient], T]) -> T:
        rounds = 0
        moves = 0
        while True:
            current = self.base_url
            try:
                return request(self._clients[current])
            except ModelUnavailable as exc:
                cause = exc.__cause__
                if isinstance(exc, ContextOverflow) or not (
                    isinstance(cause, Exception) and retryable(cause)
                ):
                    raise
                why = exc.message
                self.dead[current] = why
                other = self._first_healthy(self._order(), skip=current)
                if other not in self.dead and moves < len(self.urls) * (self.retries + 1):
                    moves += 1
                    self.base_url = other
                    log.warning("model replica %s failed (%s); now on %s", current, why, other)
                    if self.on_failover is not None:
                        self.on_failover(current, other, why)
                    continue
                if rounds >= self.retries:
                    raise
                threading.Event().wait(min(BACKOFF_S * 2**rounds, BACKOFF_MAX_S))
                rounds += 1
