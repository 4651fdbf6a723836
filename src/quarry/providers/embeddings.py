"""Text embeddings for collections: vectors whose cosine similarity says how alike two texts are.

Two embedders, one interface (``name`` + ``embed``):

- :class:`BuiltinEmbedder` — offline, deterministic, no model: feature hashing of normalised word
  unigrams, word bigrams and character trigrams into 512 signed dimensions, L2-normalised. It
  measures shared words and spellings, not meaning ("car" and "automobile" are unrelated to it).
- :class:`OpenAIEmbedder` — any OpenAI-compatible ``POST {base}/embeddings`` endpoint (OpenAI,
  Ollama, vLLM, LocalAI, text-embeddings-inference…), with the retries of the other providers.

Every vector is L2-normalised, so cosine similarity is a dot product. ``name`` identifies the
embedder *and* its configuration: vectors made under different names are never compared.

>>> embedder = BuiltinEmbedder()
>>> vectors = embedder.embed(["Acme Corporation", "ACME corp.", "blue whale"])
>>> bool(vectors[0] @ vectors[1] > vectors[0] @ vectors[2])
True
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
import numpy as np

from quarry.config import Settings
from quarry.providers import ProviderError
from quarry.providers.http import ModelEndpoint, endpoint_settings, error_detail
from quarry.providers.llm.chunks import estimate_tokens

MAX_TERM_CHARS = 100
"""Longer runs of letters and digits (base64 blobs, hashes) are cut to this length."""

_WORD = re.compile(r"[^\W_]+")


def terms(text: str) -> list[str]:
    """The words of ``text`` as search terms: Unicode-normalised (NFKD), diacritics removed,
    case-folded, split at every character that is not a letter or a digit.

    >>> terms("Café-Müller, INV_2024/0042 Straße")
    ['cafe', 'muller', 'inv', '2024', '0042', 'strasse']
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return [word[:MAX_TERM_CHARS] for word in _WORD.findall(stripped.casefold())]


class Embedder(Protocol):
    name: str
    """Which embedder and configuration made a vector (``builtin-hash-v1-512``, ``openai:<model>@<url>``)."""

    max_tokens: int | None
    """The most tokens the embedder reads of one text (``None``: it reads all of them)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text (a text without words gives a zero row)."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many tokens the embedder makes of ``text`` (``POST /v3/collections/token-count``)."""
        ...


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0).astype(np.float32)


# --- builtin ----------------------------------------------------------------------------------

_GROUP_WEIGHTS = {"w": 0.4, "b": 0.1, "c": 0.5}
"""Share of each feature group in a vector's squared norm: words, word bigrams, character trigrams."""


def _hashed(features: Counter[str], group: str, dimensions: int) -> np.ndarray:
    """Signed feature hashing with sublinear counts; the group's vector, L2-normalised."""
    vector = np.zeros(dimensions, dtype=np.float64)
    for feature, count in features.items():
        digest = int.from_bytes(hashlib.blake2b(f"{group}\x1f{feature}".encode(), digest_size=8).digest(), "little")
        sign = 1.0 if digest >> 63 else -1.0
        vector[digest % dimensions] += sign * (1.0 + math.log(count))
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


@dataclass(frozen=True)
class BuiltinEmbedder:
    """Feature hashing of words, word pairs and character trigrams (``#word#`` padded).

    Stable across processes and versions of Python (blake2b, not ``hash()``); ``name`` changes
    whenever the algorithm does, so stored vectors are re-made rather than silently compared.
    """

    dimensions: int = 512
    version: int = 1
    max_tokens: int | None = None  # every word counts, however long the text

    @property
    def name(self) -> str:
        return f"builtin-hash-v{self.version}-{self.dimensions}"

    def vector(self, text: str) -> np.ndarray:
        words = terms(text)
        groups = {
            "w": Counter(words),
            "b": Counter(f"{a} {b}" for a, b in zip(words, words[1:])),
            "c": Counter(padded[i : i + 3] for word in words for padded in [f"#{word}#"] for i in range(len(word))),
        }
        combined = sum(
            math.sqrt(_GROUP_WEIGHTS[group]) * _hashed(features, group, self.dimensions)
            for group, features in groups.items()
        )
        norm = np.linalg.norm(combined)
        return (combined / norm if norm > 0 else np.zeros(self.dimensions)).astype(np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([self.vector(text) for text in texts])

    def count_tokens(self, text: str) -> int:
        """Its tokens are its terms: the words it hashes."""
        return len(terms(text))


# --- OpenAI-compatible --------------------------------------------------------------------------

BATCH_SIZE = 100
"""Texts per request to the endpoint."""


OPENAI_MAX_TOKENS = 8191
"""What OpenAI's embedding models (text-embedding-3-*, ada-002) take of one text."""


@dataclass
class OpenAIEmbedder(ModelEndpoint):
    max_tokens: int | None = OPENAI_MAX_TOKENS

    @property
    def name(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def count_tokens(self, text: str) -> int:
        """Estimated offline, as the length of a model's prompt is (``llm.chunks``): no tokenizer
        of the endpoint's model is shipped, and the estimate errs on the long side."""
        return estimate_tokens(text)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        with httpx.Client(timeout=self.timeout_seconds) as client:
            for start in range(0, len(texts), BATCH_SIZE):
                rows += self._request(client, list(texts[start : start + BATCH_SIZE]))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return normalise_rows(np.asarray(rows, dtype=np.float64))

    def _request(self, client: httpx.Client, batch: list[str]) -> list[list[float]]:
        # an empty string is refused by OpenAI; a text without words has no meaning to embed anyway
        inputs = [text if text.strip() else " " for text in batch]
        response = self.post(client, "/embeddings", json={"model": self.model, "input": inputs})
        if response.status_code >= 400:
            raise ProviderError(
                f"the embeddings endpoint refused the request: HTTP {response.status_code}: {error_detail(response)}"
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item.get("index", 0))
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ProviderError(f"the embeddings endpoint's answer has no embeddings: {response.text[:200]}") from None
        if len(vectors) != len(batch) or not vectors or len({len(v) for v in vectors}) != 1 or not vectors[0]:
            raise ProviderError(
                f"the embeddings endpoint answered {len(vectors)} vectors of unequal or zero length "
                f"for {len(batch)} texts"
            )
        return vectors


DEFAULT_EMBEDDER = BuiltinEmbedder()


def embedder_from_settings(settings: Settings) -> Embedder:
    """The deployment's embedder: OpenAI-compatible when ``QUARRY_EMBEDDINGS_BASE_URL`` is set, else builtin."""
    if not settings.embeddings_base_url:
        return DEFAULT_EMBEDDER
    if not settings.embeddings_model:
        raise ProviderError("QUARRY_EMBEDDINGS_BASE_URL is set but QUARRY_EMBEDDINGS_MODEL is not: name the model")
    api_key = settings.embeddings_api_key or settings.llm_api_key
    return OpenAIEmbedder(
        **endpoint_settings(settings, settings.embeddings_base_url, api_key), model=settings.embeddings_model
    )


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored: little-endian float32 (2 KiB for 512 dimensions)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")
