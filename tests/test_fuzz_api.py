"""The JSON API against its OpenAPI document.

- Every /api/ rule of ``app.url_map`` is in the document, each method with its path
  parameters and a JSON schema for its answers (a new API route without one fails here).
- schemathesis generates requests from the document (valid and invalid ones) and sends them
  as several personas: an administrator and county staff with their API tokens, a
  township's staff with a logged-in session, a unit (403) and nobody (401). Whatever they
  send: never a 5xx, and every answer (status, content type, body) is one the document
  describes.
- Hostile values (``tests/fuzz.py``) in every query argument and the region code.

``make test`` runs a few examples per endpoint; ``HYPOTHESIS_PROFILE=ci`` at least 200.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from registry.extensions import db
from tests.conftest import Session, _clean, built_once
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE
from tests.fuzz import (
    ABSENT, World, build_world, examples, hostile_number, hostile_text, id_like, mutations, write_report,
)

CITY = COUNTY[:4] + "00000000"
API_PERSONAS = ("admin", "county", "township", "unit", "anonymous")
REPORT: dict[str, dict] = {}


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_every_api_route_is_in_the_openapi_document(app, db, make_user, login_as):
    document = login_as(make_user("viewer", region_code=PROVINCE)).get("/api/v1/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = document["paths"].get(_openapi_path(rule.rule))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = (path or {}).get(method.lower())
            if operation is None:
                missing.append(f"{method} {rule.rule}")
                continue
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            if declared != set(rule.arguments):
                missing.append(f"{method} {rule.rule}: path parameters {sorted(declared)} ≠ {sorted(rule.arguments)}")
            ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema")
            if not ok:
                missing.append(f"{method} {rule.rule}: no schema of its 200 answer")
            if "401" not in operation["responses"]:
                missing.append(f"{method} {rule.rule}: 401 not described")
    assert missing == [], "API routes the OpenAPI document lacks or describes wrongly"


def test_a_redirect_of_the_api_is_json(app, db, make_user):
    """The router sends a doubled or an encoded slash (a region code "/0", as the hostile
    arguments test once drew) to the path without it: in JSON, as every API answer."""
    from registry.accounts.tokens import issue_token

    token = issue_token(make_user("admin"), "模糊测试")
    db.session.commit()
    for url in ("/api/v1/coverage/%2F0", "/api/v1/gaps//0"):
        response = app.test_client().get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 308 and response.mimetype == "application/json", (url, response.mimetype)
        assert response.headers["Location"].endswith(url.replace("%2F", "/").replace("//", "/")), response.headers
        assert response.get_json()["error"]


# -- the personas --------------------------------------------------------------------------------

@dataclass
class Api:
    app: object
    world: World
    clients: dict  # persona -> (test client, headers)
    codes: list[str]


@pytest.fixture(scope="module")
def api(_app):
    from registry.accounts.models import User
    from registry.accounts.tokens import issue_token

    with _app.app_context():
        _clean(_app)
        world = built_once("fuzz.world", build_world)
        clients = {}
        for persona in ("admin", "county", "unit"):
            user = db.session.get(User, world.users[persona])
            clients[persona] = (_app.test_client(), {"Authorization": f"Bearer {issue_token(user, '模糊测试')}"})
        township = db.session.get(User, world.users["township"])
        clients["township"] = (Session(_app.test_client(), township).client, {})
        clients["anonymous"] = (_app.test_client(), {})
        codes = [PROVINCE, CITY, COUNTY, OTHER_COUNTY, world.codes["township"], world.codes["v1"], world.codes["vf"]]
        yield Api(_app, world, clients, codes)
        db.session.rollback()
        db.session.remove()
    write_report(REPORT)


@functools.cache
def _schema():
    import schemathesis

    from registry.dashboard.openapi import openapi_document

    return schemathesis.openapi.from_dict(openapi_document("http://localhost"))


@functools.cache
def _operations():
    from schemathesis.core.result import Ok

    return tuple(result.ok() for result in _schema().get_all_operations() if isinstance(result, Ok))


def _label(operation) -> str:
    return f"{operation.method.upper()} {operation.path}"


OPERATIONS = ["GET /api/v1/coverage/{code}", "GET /api/v1/gaps/{code}", "GET /api/v1/openapi.json"]


def test_the_fuzzed_operations_are_the_documents():
    assert sorted(_label(op) for op in _operations()) == OPERATIONS


@pytest.mark.parametrize("label", OPERATIONS)
def test_schemathesis_no_5xx_and_answers_conform(api, label):
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
    )

    operation = next(op for op in _operations() if _label(op) == label)
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    codes = st.none() | st.sampled_from(api.codes) if "{code}" in label else st.none()
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
              response_headers_conformance]
    stats = REPORT.setdefault(f"schemathesis {label}", {"examples": 0, "accepted": 0})
    stats.update(examples=0, accepted=0)

    @settings(max_examples=examples(), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(case=cases, persona=st.sampled_from(API_PERSONAS), code=codes)
    def run(case, persona, code):
        if code is not None:
            case.path_parameters = {**(case.path_parameters or {}), "code": code}
        client, headers = api.clients[persona]
        response = case.call(app=api.app, session=client, headers=headers)
        case.validate_response(response, checks=checks)
        stats["examples"] += 1
        stats["accepted"] += response.status_code == 200

    run()
    print(f"schemathesis {label}: {stats['examples']} examples, {stats['accepted']} answered 200")


API_ARGS = {
    "/api/v1/coverage/<code>": ("year", "category", "org_kind", "flag", "xiangshang"),
    "/api/v1/gaps/<code>": ("kind", "limit", "offset"),
    "/api/v1/openapi.json": (),
}


@pytest.mark.parametrize("rule", sorted(API_ARGS))
def test_hostile_query_arguments_never_fail(api, rule):
    """Hostile text and numbers in every query argument, and in the region code."""
    names = API_ARGS[rule]
    values = {name: hostile_number() | hostile_text() | st.sampled_from(["2025", "industry", "key", "overdue", "10"])
              for name in names}
    for name in set(names) & {"limit", "offset"}:
        values[name] = id_like(values[name])
    code = st.sampled_from(api.codes) | hostile_number() | hostile_text(14)
    stats = REPORT.setdefault(f"hostile {rule}", {"examples": 0, "accepted": 0})
    stats.update(examples=0, accepted=0)

    @settings(max_examples=examples(), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(args=mutations(values), code=code, persona=st.sampled_from(API_PERSONAS))
    def run(args, code, persona):
        from urllib.parse import quote

        client, headers = api.clients[persona]
        url = rule.replace("<code>", quote(code, safe=""))
        query = {k: v for k, v in args.items() if v is not ABSENT}
        response = client.get(url, query_string=query, headers=headers)
        assert response.status_code < 500, (url, query, persona, response.status_code)
        assert response.mimetype == "application/json", (url, query, response.mimetype)
        stats["examples"] += 1
        stats["accepted"] += response.status_code == 200

    run()
    print(f"hostile {rule}: {stats['examples']} examples, {stats['accepted']} answered 200")
