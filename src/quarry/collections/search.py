"""Searching a collection's items: what an enrich step does for each value it looks up.

Three modes (bem's ``searchMode``):

- ``semantic``: cosine distance (1 − cosine similarity, 0..2) between the query's vector and
  each item's; items within ``score_threshold`` are kept, nearest first. Brute force over the
  collection's vectors (numpy): fine for tens of thousands of items per search scope.
- ``exact``: full-text search on the items' terms — SQLite FTS5 ranked by ``bm25``, PostgreSQL
  ``to_tsvector('simple', …) @@ plainto_tsquery('simple', …)`` ranked by ``ts_rank``. An item
  matches when it contains every word of the query (any order, any case, diacritics ignored).
  ``score_threshold`` does not apply.
- ``hybrid``: score = 0.2 × semantic + 0.8 × keyword, where semantic = max(0, 1 − distance)
  and keyword = the IDF-weighted share of the query's words the item contains (in 0..1; words
  rare in the searched items weigh more). Items with a score above 0 and 1 − score within
  ``score_threshold`` are kept, best first.

Every result carries the item's real cosine distance to the query, whatever the mode. Vectors
are compared only when the same embedder made them: an item whose vector another embedder made
(the deployment's embedder changed and the sweeper has not re-embedded it yet) is re-embedded
in memory for the search, up to :data:`MAX_REEMBED_PER_SEARCH` items; beyond that the search
refuses with :class:`EmbedderMismatch`.

>>> search(session, env_id, "vendors", "Acme Corp", top_k=3, mode="hybrid")  # doctest: +SKIP
[({'name': 'ACME Corporation', 'city': 'Berlin'}, 0.2731)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.collections.models import SQLITE_SEARCH_TABLE, Collection, CollectionItem, in_hierarchy
from quarry.providers.embeddings import DEFAULT_EMBEDDER, Embedder, from_bytes, terms

SearchMode = Literal["semantic", "exact", "hybrid"]
SEMANTIC_WEIGHT = 0.2
KEYWORD_WEIGHT = 0.8
MAX_REEMBED_PER_SEARCH = 1000


class CollectionError(Exception):
    """A search that cannot be answered; the message says why, for the function call's error event."""


class CollectionNotFound(CollectionError, LookupError):
    def __init__(self, collection_name: str) -> None:
        super().__init__(f"collection {collection_name!r} not found")
        self.collection_name = collection_name


class EmbedderMismatch(CollectionError):
    """Too many items still carry vectors of another embedder to re-embed them for one search."""


def search(
    session: Session,
    environment_id: str,
    collection_name: str,
    query: str,
    *,
    top_k: int = 1,
    mode: SearchMode = "semantic",
    score_threshold: float = 0.6,
    include_subcollections: bool = False,
    embedder: Embedder | None = None,
) -> list[tuple[Any, float]]:
    """The best ``top_k`` items for ``query`` as ``(data, cosine_distance)``, best first.

    Raises :class:`CollectionNotFound` for a collection the environment does not have,
    :class:`EmbedderMismatch` (see the module), and the embedder's ``ProviderError``. A query
    without any word finds nothing. ``embedder`` defaults to the builtin one: pass the
    deployment's (``embedder_from_settings``) so that vectors compare with the stored ones.
    """
    if mode not in ("semantic", "exact", "hybrid"):
        raise ValueError(f"unknown search mode {mode!r}")
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    embedder = embedder or DEFAULT_EMBEDDER
    collection_ids = _scope(session, environment_id, collection_name, include_subcollections)
    query_terms = list(dict.fromkeys(terms(query)))
    if not query_terms:
        return []
    if mode == "exact":
        ranked = _exact_matches(session, collection_ids, query_terms, top_k)
        if not ranked:
            return []
        distances = _distances(session, ranked, query, embedder)
        return _with_data(session, [(item_id, distances[item_id]) for item_id in ranked])

    candidates = _candidates(session, collection_ids, with_terms=mode == "hybrid")
    if not candidates:
        return []
    ids = [row.id for row in candidates]
    vectors = _vectors(session, candidates, embedder)
    query_vector = embedder.embed([query])[0]
    distances = np.clip(1.0 - vectors @ query_vector, 0.0, 2.0)
    order_key = {row.id: (row.created_at, row.id) for row in candidates}
    if mode == "semantic":
        kept = [(float(d), i) for i, d in zip(ids, distances) if d <= score_threshold]
        kept.sort(key=lambda pair: (pair[0], order_key[pair[1]]))
        return _with_data(session, [(i, d) for d, i in kept[:top_k]])

    keyword = _keyword_scores([row.terms.split() for row in candidates], query_terms)
    scored = []
    for item_id, distance, keyword_score in zip(ids, distances, keyword):
        score = SEMANTIC_WEIGHT * max(0.0, 1.0 - float(distance)) + KEYWORD_WEIGHT * keyword_score
        if score > 0 and 1.0 - score <= score_threshold:
            scored.append((score, float(distance), item_id))
    scored.sort(key=lambda s: (-s[0], s[1], order_key[s[2]]))
    return _with_data(session, [(item_id, distance) for _, distance, item_id in scored[:top_k]])


def _scope(session: Session, environment_id: str, name: str, include_subcollections: bool) -> list[str]:
    condition = in_hierarchy(name) if include_subcollections else Collection.name == name
    rows = session.execute(
        sa.select(Collection.id, Collection.name).where(Collection.environment_id == environment_id, condition)
    ).all()
    if not any(row.name == name for row in rows):
        raise CollectionNotFound(name)
    return [row.id for row in rows]


def _keyword_scores(documents: list[list[str]], query_terms: list[str]) -> list[float]:
    """Per document, the share of the query's IDF weight its words cover (0..1)."""
    sets = [set(words) for words in documents]
    count = len(sets)
    weights = {}
    for term in query_terms:
        df = sum(term in words for words in sets)
        weights[term] = math.log(1.0 + (count - df + 0.5) / (df + 0.5))
    total = sum(weights.values())
    return [sum(w for t, w in weights.items() if t in words) / total for words in sets]


def _candidates(session: Session, collection_ids: list[str], *, with_terms: bool) -> list[Any]:
    columns = [CollectionItem.id, CollectionItem.embedding, CollectionItem.embedder, CollectionItem.created_at]
    if with_terms:
        columns.append(CollectionItem.terms)
    return list(session.execute(sa.select(*columns).where(CollectionItem.collection_id.in_(collection_ids))).all())


def _vectors(session: Session, rows: Sequence[Any], embedder: Embedder) -> np.ndarray:
    """The rows' vectors as one matrix, re-embedding (in memory) those another embedder made."""
    stale = [row.id for row in rows if row.embedder != embedder.name]
    fresh: dict[str, np.ndarray] = {}
    if stale:
        if len(stale) > MAX_REEMBED_PER_SEARCH:
            raise EmbedderMismatch(
                f"{len(stale)} items of this collection were embedded by another embedder than the configured "
                f"{embedder.name!r} and are still being re-embedded; search again later"
            )
        texts = dict(
            session.execute(sa.select(CollectionItem.id, CollectionItem.text).where(CollectionItem.id.in_(stale))).all()
        )
        fresh = dict(zip(stale, embedder.embed([texts[i] for i in stale])))
    return np.stack([fresh[row.id] if row.id in fresh else from_bytes(row.embedding) for row in rows])


def _distances(session: Session, item_ids: list[str], query: str, embedder: Embedder) -> dict[str, float]:
    rows = session.execute(
        sa.select(CollectionItem.id, CollectionItem.embedding, CollectionItem.embedder).where(
            CollectionItem.id.in_(item_ids)
        )
    ).all()
    vectors = _vectors(session, rows, embedder)
    distances = np.clip(1.0 - vectors @ embedder.embed([query])[0], 0.0, 2.0)
    return {row.id: float(d) for row, d in zip(rows, distances)}


def _exact_matches(session: Session, collection_ids: list[str], query_terms: list[str], top_k: int) -> list[str]:
    """IDs of the items containing every query word, best ranked first (ties: creation order)."""
    stmt = sa.select(CollectionItem.id).where(CollectionItem.collection_id.in_(collection_ids))
    if session.get_bind().dialect.name == "sqlite":
        table = sa.table(SQLITE_SEARCH_TABLE, sa.column("rowid", sa.BigInteger))
        match = " ".join(f'"{term}"' for term in query_terms)  # terms are letters and digits only
        stmt = (
            stmt.join(table, table.c.rowid == CollectionItem.search_rowid)
            .where(sa.text(f"{SQLITE_SEARCH_TABLE} MATCH :match").bindparams(match=match))
            .order_by(sa.text(f"bm25({SQLITE_SEARCH_TABLE})"))
        )
    else:
        words = " ".join(query_terms)
        stmt = stmt.where(
            sa.text("to_tsvector('simple', collection_items.terms) @@ plainto_tsquery('simple', :words)").bindparams(
                words=words
            )
        ).order_by(
            sa.text(
                "ts_rank(to_tsvector('simple', collection_items.terms), plainto_tsquery('simple', :rank_words)) DESC"
            ).bindparams(rank_words=words)
        )
    stmt = stmt.order_by(CollectionItem.created_at, CollectionItem.id).limit(top_k)
    return list(session.scalars(stmt))


def _with_data(session: Session, ranked: list[tuple[str, float]]) -> list[tuple[Any, float]]:
    if not ranked:
        return []
    data = dict(
        session.execute(
            sa.select(CollectionItem.id, CollectionItem.data).where(CollectionItem.id.in_([i for i, _ in ranked]))
        ).all()
    )
    return [(data[item_id], round(distance, 6)) for item_id, distance in ranked if item_id in data]
