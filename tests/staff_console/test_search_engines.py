"""Search with German word forms on both database engines, in sync with every write."""
from __future__ import annotations

import pytest

from ks1bot.core.german_stem import stem
from tests.support.handoffs import new_handoff


@pytest.mark.parametrize("word, expected", [
    ("Rechnungen", "rechnung"), ("Rechnung", "rechnung"), ("Häuser", "haus"), ("Kenntnisse", "kenntnis"),
    ("aufeinanderfolgenden", "aufeinanderfolg"), ("Lieferscheine", "lieferschein"), ("Straße", "strass"),
])
def test_the_german_stemmer(word, expected):
    assert stem(word) == expected


def _store(url, settings):
    from ks1bot.app import wiring

    return wiring.handoff_store(settings, url=url)


def _check(store):
    from ks1bot.conversations.search import search_handoffs

    wanted = new_handoff(store, text="Die Rechnung wird mit falschem Datum gedruckt", subject="Druckproblem")
    other = new_handoff(store, text="Der Lieferschein fehlt")
    assert search_handoffs(store.engine, "Rechnungen") == [wanted]
    assert search_handoffs(store.engine, "Datums") == [wanted]
    assert search_handoffs(store.engine, "Meier Rechnungen") == [wanted]  # customer and text together
    assert search_handoffs(store.engine, "Rechnungen Lieferschein") == []
    store.add_customer_message(other, "kunde", "Und die Rechnungen auch")  # a later message, same transaction
    assert sorted(search_handoffs(store.engine, "Rechnung")) == sorted([wanted, other])
    assert search_handoffs(store.engine, "") == []


def test_search_on_sqlite(tmp_path, settings):
    _check(_store(f"sqlite:///{tmp_path / 'search.db'}", settings))


def test_search_on_postgresql(postgres, settings):
    _check(_store(postgres.url, settings))
