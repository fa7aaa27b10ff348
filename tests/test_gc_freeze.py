"""The collector's full passes walk only what a worker built lately: what survives its first
full collections (mappers configured, templates and statements compiled by the first
requests) is frozen, as ``create_app`` froze what it built (registry/__init__.py)."""
from __future__ import annotations

import gc

import registry


def test_the_first_full_collections_freeze_their_survivors(monkeypatch):
    monkeypatch.setattr(registry, "_SURVIVOR_FREEZES", [2])
    kept = [[n] for n in range(1000)]  # alive through the collections
    before = gc.get_freeze_count()
    try:
        registry._freeze_survivors("stop", {"generation": 1})  # a younger generation's: nothing
        assert gc.get_freeze_count() == before
        gc.collect()
        registry._freeze_survivors("stop", {"generation": 2})
        first = gc.get_freeze_count()
        assert first >= before + len(kept)
        registry._freeze_survivors("stop", {"generation": 2})
        kept.append([0] * 10)
        registry._freeze_survivors("stop", {"generation": 2})  # the freezes are used up
        assert registry._SURVIVOR_FREEZES == [0]
        assert gc.get_freeze_count() < first + 1000
    finally:
        gc.unfreeze()


def test_an_app_outside_tests_installs_the_callback_at_its_first_request(monkeypatch):
    monkeypatch.setattr(gc, "callbacks", list(gc.callbacks))
    monkeypatch.setattr(gc, "freeze", lambda: None)  # this process's objects stay collectable
    app = registry.create_app({"TESTING": False, "SECRET_KEY": "x", "DATA_KEY": "x",
                               "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert not app.testing
    assert registry._freeze_survivors not in gc.callbacks  # a CLI command's process: none
    for _ in range(2):
        assert app.test_client().get("/favicon.ico").status_code == 302
    assert gc.callbacks.count(registry._freeze_survivors) == 1
