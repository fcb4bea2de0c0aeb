"""Full-text search over conversations (customer, subject, every message), German word
forms included ("Rechnungen" finds "Rechnung").

- PostgreSQL: the `german` text-search configuration over GIN expression indexes on the
  handoff's customer/sender/subject and on each message's text (migration 0201). An index
  is part of the table it indexes, so it is in sync with every write by construction.
- SQLite: an FTS5 table `conversation_search` with one row per handoff (rowid = handoff
  id; columns customer, subject, body), kept by triggers on `handoffs` and
  `conversation_messages` (migration 0201) — in the same transaction as the write. FTS5 has
  no German stemmer, so the query is stemmed here (ks1bot.core.german_stem, Snowball) and
  each stem is matched as a prefix of the indexed words, which the unicode61 tokenizer
  stores without diacritics: "Rechnungen" → rechnung* finds Rechnung, Rechnungen,
  Rechnungsnummer; "Häuser" → haus* finds Haus.

Every term must occur somewhere in the conversation (AND across terms, any field)."""
from __future__ import annotations

from typing import List

from sqlalchemy import text as sql

from ks1bot.core.german_stem import WORD, stems

MAX_TERMS = 8


def search_handoffs(engine, query: str, limit: int = 50) -> List[int]:
    """Ids of the handoffs whose conversation matches every word of `query`, best first."""
    words = WORD.findall(query or "")[:MAX_TERMS]
    if not words:
        return []
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            return _postgres(connection, words, limit)
        return _sqlite(connection, words, limit)


def _sqlite(connection, words: List[str], limit: int) -> List[int]:
    terms = []
    for word in words:
        found = stems(word)
        if not found or not found[0]:
            continue
        # a stem is letters and digits only (WORD), so quoting it is enough
        terms.append('"' + found[0].replace('"', "") + '"*')
    if not terms:
        return []
    rows = connection.execute(sql("SELECT rowid FROM conversation_search WHERE conversation_search MATCH :q "
                                  "ORDER BY rank LIMIT :limit"), {"q": " AND ".join(terms), "limit": limit})
    return [int(r[0]) for r in rows]


HANDOFF_DOC = ("to_tsvector('german', coalesce(h.customer_name, '') || ' ' || coalesce(h.customer_id, '') || ' ' "
               "|| coalesce(h.sender, '') || ' ' || coalesce(h.subject, ''))")
MESSAGE_DOC = "to_tsvector('german', m.text)"


def _postgres(connection, words: List[str], limit: int) -> List[int]:
    clauses, params = [], {"limit": limit}
    for n, word in enumerate(words):
        params[f"w{n}"] = word
        query = f"plainto_tsquery('german', :w{n})"
        clauses.append(f"({HANDOFF_DOC} @@ {query} OR EXISTS (SELECT 1 FROM conversation_messages m "
                       f"WHERE m.handoff_id = h.id AND {MESSAGE_DOC} @@ {query}))")
    rows = connection.execute(sql(f"SELECT h.id FROM handoffs h WHERE {' AND '.join(clauses)} "
                                  "ORDER BY h.created_at DESC LIMIT :limit"), params)
    return [int(r[0]) for r in rows]


def handoffs_of_customer(engine, customer_id: str, limit: int = 200) -> List[int]:
    """Every handoff of a customer (all channels), newest first."""
    with engine.connect() as connection:
        rows = connection.execute(sql("SELECT id FROM handoffs WHERE customer_id = :c ORDER BY created_at DESC "
                                      "LIMIT :limit"), {"c": customer_id, "limit": limit})
        return [int(r[0]) for r in rows]
