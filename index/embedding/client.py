"""An embedder that asks an OpenAI-compatible server (`POST {base}/embeddings`).

Any server with the OpenAI embeddings shape works: `qa embed-server`, Ollama, vLLM, llama.cpp's
server, hosted APIs. Rows come back L2-normalised float32 like every local embedder, so the
store and retrieval cannot tell the difference. Indexing hands over many batches at once
(`embed_batches`), and they are sent concurrently so this process never waits on one request
while the server could work on the next.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from index.errors import UserError
from index.retry import Retry

if TYPE_CHECKING:
    from index.settings import EmbeddingSettings

# Overloaded or restarting servers answer these; a later attempt may succeed.
RETRY_STATUSES = {429, 502, 503, 504}
PROBE_TEXT = "dimension probe"


class EmbeddingServerError(UserError):
    """The embedding server is unreachable, refuses, or answers something unusable."""


def normalise_base_url(url: str) -> str:
    base = url.strip().rstrip("/")
    return base if "://" in base else f"http://{base}"


def _same_model(asked: str, answered: str) -> bool:
    """Servers may echo the name with an organisation prefix ('sentence-transformers/...')."""
    a, b = asked.casefold(), answered.casefold()
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


class OpenAIEmbedder:
    """Embeddings from a server; the dimension is learnt from one probe request at start."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "",
        timeout_s: float = 120.0,
        concurrency: int = 4,
        batch_size: int = 32,
        retry: Retry | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self.name = model
        self.concurrency = max(1, concurrency)
        self.batch_size = max(1, batch_size)
        self.timeout_s = timeout_s
        self.retry = retry or Retry(2, 0.5)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            headers=headers,
            timeout=timeout_s,
            transport=transport,
            # Every batch in flight needs its own connection.
            limits=httpx.Limits(max_connections=self.concurrency + 2),
        )
        self.dimension = 0
        try:
            self.dimension = int(self._request([PROBE_TEXT]).shape[1])
        except BaseException:
            self._http.close()
            raise

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings, timeout_s: float) -> OpenAIEmbedder:
        return cls(
            settings.embed_base_url,
            settings.embed_model,
            api_key=os.environ.get(settings.embed_api_key_env, ""),
            timeout_s=timeout_s,
            concurrency=settings.embed_concurrency,
            batch_size=settings.embed_batch_size,
        )

    # --- the Embedder protocol ---------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        return self.embed_batches(batches)

    def embed_batches(self, batches: list[list[str]]) -> np.ndarray:
        """All rows of all batches, in order; up to `concurrency` requests in flight."""
        batches = [b for b in batches if b]
        if not batches:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(batches) == 1 or self.concurrency == 1:
            return np.concatenate([self._request(b) for b in batches])
        with ThreadPoolExecutor(min(self.concurrency, len(batches))) as pool:
            futures: list[Future[np.ndarray]] = [pool.submit(self._request, b) for b in batches]
            try:
                return np.concatenate([f.result() for f in futures])
            except BaseException:
                for f in futures:  # one failed batch fails the flush: send no more
                    f.cancel()
                raise

    def close(self) -> None:
        self._http.close()

    # --- one request -----------------------------------------------------------------------
    def _request(self, texts: list[str]) -> np.ndarray:
        url = f"{self.base_url}/embeddings"
        body = {"model": self.name, "input": texts}
        for attempt in self.retry.attempts():
            try:
                response = self._http.post(url, json=body)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise EmbeddingServerError(
                    f"bad embedding server URL {self.base_url!r} (QA_EMBED_BASE_URL): {exc}"
                ) from exc
            except httpx.TransportError as exc:
                if self.retry.again(attempt, "embedding request", type(exc).__name__):
                    continue
                raise EmbeddingServerError(self._transport_message(exc)) from exc
            if response.status_code in RETRY_STATUSES and self.retry.again(
                attempt, "embedding request", f"HTTP {response.status_code}"
            ):
                continue
            return self._parse(response, len(texts))
        raise AssertionError("unreachable")

    def _transport_message(self, exc: Exception) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return (
                f"the embedding server at {self.base_url} did not answer within "
                f"{self.timeout_s:g} s (QA_REQUEST_TIMEOUT_S); it may be overloaded"
            )
        return (
            f"cannot reach the embedding server at {self.base_url} ({exc.__class__.__name__}); "
            "is it running (`qa embed-server`)? Or set QA_EMBED_BACKEND=local"
        )

    def _parse(self, response: httpx.Response, expected: int) -> np.ndarray:
        where = f"the embedding server at {self.base_url}"
        if response.status_code >= 400:
            raise EmbeddingServerError(
                f"{where} answered HTTP {response.status_code} for model {self.name!r}: "
                f"{_error_text(response)}"
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise EmbeddingServerError(
                f"{where} sent something that is not JSON: {response.text[:80]!r}"
            ) from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise EmbeddingServerError(
                f"{where} sent no 'data' list; is it an OpenAI-compatible embeddings API?"
            )
        answered = payload.get("model")
        if isinstance(answered, str) and answered and not _same_model(self.name, answered):
            raise EmbeddingServerError(
                f"{where} answered with model {answered!r}, not {self.name!r} "
                "(QA_EMBED_MODEL); vectors of different models cannot be mixed"
            )
        return self._vectors(payload["data"], expected, where)

    def _vectors(self, data: list[Any], expected: int, where: str) -> np.ndarray:
        if len(data) != expected:
            raise EmbeddingServerError(f"{where} sent {len(data)} embeddings for {expected} texts")
        try:
            ordered = sorted(data, key=lambda item: int(item["index"]))
            indices = [int(item["index"]) for item in ordered]
            rows = np.asarray([item["embedding"] for item in ordered], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingServerError(
                f"{where} sent embeddings without a numeric 'index' and a list of numbers as "
                f"'embedding' ({exc.__class__.__name__})"
            ) from exc
        if indices != list(range(expected)):
            raise EmbeddingServerError(
                f"{where} sent embedding indices {indices[:8]}, not 0 to {expected - 1}"
            )
        if rows.ndim != 2 or rows.shape[1] == 0 or not np.isfinite(rows).all():
            raise EmbeddingServerError(f"{where} sent embeddings that are not finite vectors")
        if self.dimension and rows.shape[1] != self.dimension:
            raise EmbeddingServerError(
                f"{where} sent {rows.shape[1]}-dimensional vectors after {self.dimension}-"
                "dimensional ones; did the model behind it change?"
            )
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _error_text(response: httpx.Response) -> str:
    """The server's own message when it sent one in the OpenAI error shape."""
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:200]
    except (ValueError, AttributeError):
        pass
    return response.text[:200] or response.reason_phrase
