"""Hostile input for the fuzz tests (``test_fuzz_forms``, ``test_fuzz_api``): Hypothesis
strategies for the values a person, a script or an attacker may type into any field, the
fields of a WTForms class, the values a page's own form would post, and a cheap census of
the database to prove that a refused request wrote nothing.

What the values are: text with control, bidirectional-override, zero-width, emoji and
full-width characters, empty and very long strings; numbers that are huge, negative,
1e308, NaN, infinite, full-width or malformed; dates that do not exist, are malformed or
lie far away; ids of objects in another user's scope.
"""
from __future__ import annotations

import io
import json
import os
import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser

from hypothesis import settings, strategies as st
from sqlalchemy import func, select

from registry.extensions import db
from tests.conftest import PASSWORD
from tests.factories import COUNTY, OTHER_COUNTY, first_township, make_individual, make_org, make_pairing, make_person, \
    make_posting, make_village

TODAY = date.today()


INT64_MAX = 2**63 - 1
INT32_LIMIT = 2**31


def id_like(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """``strategy`` for a value that names a row or a page (huge integers included)."""
    return strategy


def write_report(report: dict) -> None:
    """Append each test's example counts to FUZZ_REPORT (``.ci/run`` sums them), once."""
    path = os.environ.get("FUZZ_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            for name, counts in sorted(report.items()):
                fh.write(json.dumps({"test": name, **counts}, ensure_ascii=False) + "\n")
    report.clear()  # written once, even if the module's fixture is set up again


def _wtforms_messages() -> tuple[str, ...]:
    """WTForms' own English messages (the msgids of its zh catalogue), each up to its first
    placeholder: "Field cannot be longer than", "Not a valid choice." …"""
    from wtforms.i18n import get_translations

    catalog = getattr(get_translations(["zh"]), "_catalog", {})
    ids = {key if isinstance(key, str) else key[0] for key in catalog if key}
    return tuple(sorted({text.split("%")[0].strip() for text in ids} - {""}))


WTFORMS_MESSAGES = _wtforms_messages()


def wtforms_english(*texts: str) -> list[str]:
    """The WTForms messages in English that ``texts`` (a page, flashed messages) hold: every
    form is a ``core.forms.RegistryForm``, whose WTForms messages are Chinese."""
    return [message for message in WTFORMS_MESSAGES if any(message in text for text in texts)]


def examples(per_form_ci: int = 200) -> int:
    """Examples per form or endpoint: ``HYPOTHESIS_PROFILE=ci`` runs at least
    ``per_form_ci``; ``make test`` (the ``quick`` profile) a handful, so the whole fuzz
    module stays within seconds."""
    default = settings.default.max_examples
    return max(default, per_form_ci) if default >= 100 else min(default, 3)


# -- characters and text ------------------------------------------------------------------------

CONTROL = [chr(c) for c in range(0x00, 0x20)] + ["\x7f", "\x85"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
        "\u200e", "\u200f", "\u061c"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u3000", "\u00a0", "\u2028", "\u2029"]
EMOJI = ["😀", "👨\u200d👩\u200d👧\u200d👦", "🇨🇳", "❤\ufe0f", "🧑🏽\u200d🌾", "\U0001f4a9", "𠀀", "𪚥"]
FULL_WIDTH = list("０１２３４５６７８９ＡＢＣｘＸ－＋．，：／")
PLAIN = list(string.ascii_letters + string.digits + " -_.,/:'\"<>&%;") + list("村县乡镇帮扶记录测试干部单位年月日元")

SPECIAL_STRINGS = [
    "", " ", "\t", "\r\n", "　", "null", "None", "undefined", "true", "0", "-1",
    "<script>alert(1)</script>", "'; DROP TABLE person; --", "=1+1", "@SUM(A1)", "%s%s%n", "{{7*7}}", "../../etc/passwd", "a\x00b",
    "\\", "%00", "\ufffd", "a" * 256, "名" * 2001, "1" * 19,
]


def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text a field may receive: mixtures of odd characters, the classics, very long."""
    return st.one_of(
        st.lists(st.sampled_from(PLAIN + INVISIBLE + EMOJI + FULL_WIDTH + CONTROL + BIDI), max_size=max_size).map("".join),
        st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=max_size),
        st.sampled_from(SPECIAL_STRINGS),
        st.tuples(st.sampled_from(["长", "a", "1", "😀"]), st.integers(300, 5000)).map(lambda p: p[0] * p[1]),
    )


# -- numbers ------------------------------------------------------------------------------------

EXTREME_NUMBERS = ["1e308", "-1e308", "1e309", "1E400", "NaN", "nan", "-NaN", "sNaN", "inf", "-inf", "Infinity",
                   str(2**63), str(2**64), str(-(2**63) - 1), "9" * 40, "1" + "0" * 400]
ODD_NUMBERS = ["0", "-0", "-1", "-0.01", "0.001", "1.005", "0.1", "1,000", "1 000", "１２３", "١٢٣", " 12 ", "0x1A",
               "1_000", "+5", "5.", ".5", "1e-400", "1e3", "12abc", "二十", "", "00012", "1.2.3", "--1",
               str(INT64_MAX), str(-(2**63)), str(2**31), str(2**31 - 1), "99999999999.99", "100000000000"]


def hostile_number() -> st.SearchStrategy[str]:
    """A number as typed into a field: odd, negative, huge, not finite, malformed."""
    return st.one_of(
        st.sampled_from(ODD_NUMBERS),
        st.sampled_from(EXTREME_NUMBERS),
        st.integers(-(2**31), 2**31).map(str),
        st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**12).map(str),
        st.integers().map(str),
        st.floats().map(repr),
    )


def hostile_id(ids: list[int]) -> st.SearchStrategy:
    """An id as a form or a path carries it: real ids (of any scope), impossible ones."""
    edges = [0, -1, INT32_LIMIT - 1, INT32_LIMIT, 2**53, INT64_MAX, 2**63, 10**30]
    parts = [st.sampled_from(sorted(set(ids)) or [1]), st.integers(0, 2**70), st.sampled_from(edges)]
    return id_like(st.one_of(parts).map(str) | st.sampled_from(["", "abc", "1.0", "１", " 1", "1,2", "-0"]))


# -- dates --------------------------------------------------------------------------------------

MALFORMED_DATES = ["2026-02-30", "2026-13-01", "2026-00-10", "2025-02-29", "0000-01-01", "2026/01/05", "2026年1月5日",
                   "20260105", "05-01-2026", "2026-1-5", "2026-01-05T10:00", "-2026-01-05", "99999-01-01",
                   "2026-01-05 ", "２０２６-０１-０５", "now", "today", "", "2026-01", "1e308", "NaN"]
FAR_DATES = ["0001-01-01", "1000-06-15", "1899-12-31", "9999-12-31", "2999-01-01"]


def hostile_date() -> st.SearchStrategy[str]:
    """Dates near now, anywhere in the calendar, at its ends, malformed."""
    return st.one_of(
        st.dates(min_value=date(2019, 1, 1), max_value=date(2029, 12, 31)).map(date.isoformat),
        st.dates(min_value=date.min, max_value=date.max).map(date.isoformat),
        st.sampled_from(MALFORMED_DATES),
        st.sampled_from(FAR_DATES),
    )


def hostile_month() -> st.SearchStrategy[str]:
    return st.one_of(st.dates(min_value=date(2019, 1, 1), max_value=date(2029, 12, 31)).map(lambda d: d.strftime("%Y-%m")),
                     st.sampled_from(["2025-13", "2025-00", "2025-1", "-2025-01", "2025", "abc", "", "2025-02-30",
                                      "0000-01", "99999-01", str(2**64) + "-01"]))


# -- form fields ------------------------------------------------------------------------------

ABSENT = object()  # the field is left out of the post


def form_fields(form_class) -> dict[str, tuple[type, dict]]:
    """The fields a WTForms class declares: name -> (field class, constructor kwargs)."""
    from wtforms.fields.core import UnboundField

    out = {}
    for name in dir(form_class):
        if name.startswith("_") or name in ("meta", "data", "errors"):
            continue
        value = getattr(form_class, name, None)
        if isinstance(value, UnboundField):
            out[name] = (value.field_class, value.kwargs)
    return out


def _choice_values(choices) -> list[str]:
    out: list[str] = []
    if isinstance(choices, dict):
        for key, value in choices.items():
            out.extend(_choice_values(value) if isinstance(value, dict) else [str(key)])
        return out
    for item in choices or ():
        value = getattr(item, "value", None)
        if value is None and isinstance(item, (tuple, list)):
            value = item[0]
        out.append(str(value))
    return out


NUMERIC_NAMES = ("amount", "hours", "income", "households", "persons", "jobs", "days", "absences", "projects",
                 "matters", "year", "version")
DATE_NAMES = ("date", "_on", "deadline", "planned_end")


def field_strategy(name: str, field_class, kwargs: dict, ids: dict[str, list[int]], codes: list[str]):
    """Hostile values for one field, by its kind and its name."""
    from wtforms import BooleanField, DateField, FileField, MultipleFileField, RadioField, SelectField, SelectMultipleField

    text = hostile_text()
    if issubclass(field_class, (FileField, MultipleFileField)):
        return upload_strategy()
    if issubclass(field_class, BooleanField):
        return st.sampled_from(["y", "on", "1", "", "false", "0", "是", "n"]) | text
    if name == "month":
        return hostile_month() | text
    if issubclass(field_class, DateField) or any(part in name for part in DATE_NAMES):
        return hostile_date() | text
    choices = _choice_values(kwargs.get("choices"))
    if name.endswith("_ids"):
        pool = ids.get(name[:-1], [])
        return st.lists(hostile_id(pool) | id_like(text), max_size=4) | id_like(text)
    if name.endswith("_id"):
        return hostile_id(ids.get(name, [])) | id_like(text)
    if name.endswith("code") and name != "credit_code":
        return st.sampled_from(codes) | st.from_regex(r"\A[0-9]{12}\Z") | hostile_number() | text
    if issubclass(field_class, SelectMultipleField):
        return st.lists(st.sampled_from(choices or ["x"]) | text, max_size=4)
    if issubclass(field_class, (SelectField, RadioField)):
        return st.sampled_from(choices or [""]) | hostile_number() | text
    if any(part in name for part in NUMERIC_NAMES):
        return hostile_number() | text
    return text | hostile_number()


def upload_strategy():
    """Files as a browser or a script may send them: nothing, junk, a real PNG or PDF
    under any name, a PNG claiming to be a PDF."""
    from tests.factories_records import pdf_bytes, png_bytes

    png, pdf = png_bytes(), pdf_bytes()
    names = st.sampled_from(["a.png", "b.jpg", "c.pdf", "d.xlsx", "e.csv", "", "x" * 300 + ".png", "../../etc/passwd",
                             "照片\u202egnp.exe", "a.PNG", "noext"])
    content = st.one_of(st.sampled_from([png, pdf, b"", b"%PDF-", png[:40], b"\x00" * 64, b"PK\x03\x04junk"]),
                        st.binary(max_size=300))
    return st.lists(st.tuples(content, names), max_size=2)


def mutations(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """One field or a few changed to hostile values (or left out), the others as the page had
    them; sometimes every field at once."""
    names = sorted(fields)
    if not names:
        return st.just({})

    def changes(chosen):
        return st.fixed_dictionaries({name: st.one_of(st.just(ABSENT), fields[name]) for name in chosen})

    one = st.sampled_from(names).flatmap(lambda name: changes([name]))
    few = st.lists(st.sampled_from(names), max_size=3, unique=True).flatmap(changes)
    every = changes(names)
    return st.one_of(one, few, every)


# -- what a page's form would post -------------------------------------------------------------


class _Forms(HTMLParser):
    """The POST forms of a page: action -> {name: value or [values]}."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict]] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_multiple = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def _add(self, name, value, multiple=False):
        if multiple or name in self._form:
            existing = self._form.get(name)
            values = existing if isinstance(existing, list) else ([] if existing is None else [existing])
            values.append(value)
            self._form[name] = values
        else:
            self._form[name] = value

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if (a.get("method") or "get").lower() == "post":
                self._form = {}
                self.forms.append((a.get("action") or "", self._form))
            return
        if self._form is None or not a.get("name"):
            if tag == "option" and self._select is not None:
                self._option(a)
            return
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._add(name, a.get("value", "y"), multiple=kind == "checkbox")
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self._add(name, a.get("value", ""))
        elif tag == "select":
            self._select, self._select_first, self._select_multiple = name, None, "multiple" in a
        elif tag == "textarea":
            self._textarea, self._text = name, []

    def _option(self, a):
        value = a.get("value", "")
        if self._select_first is None:
            self._select_first = value
        if "selected" in a:
            self._add(self._select, value, multiple=self._select_multiple)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            if self._form is not None and self._select not in self._form and not self._select_multiple:
                self._form[self._select] = self._select_first or ""
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            if self._form is not None:
                self._form[self._textarea] = "".join(self._text).lstrip("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)


def page_form(html: str, path: str) -> dict | None:
    """What the page's form for ``path`` would post as it stands (None: no such form)."""
    parser = _Forms()
    parser.feed(html)
    for action, values in parser.forms:
        if action.split("?")[0] in ("", path):
            return dict(values)
    return None


# -- the census ----------------------------------------------------------------------------------


def census_statement():
    """One query: every table's row count, and the sum of ``version`` where a table has one
    (an UPDATE of a versioned row moves it)."""
    from registry.extensions import db

    parts, labels = [], []
    for table in db.metadata.sorted_tables:
        parts.append(select(func.count()).select_from(table).scalar_subquery())
        labels.append(table.name)
        if "version" in table.c:
            parts.append(select(func.coalesce(func.sum(table.c.version), 0)).scalar_subquery())
            labels.append(f"{table.name}.version")
    return select(*parts), labels


def census(statement) -> dict[str, int]:
    from registry.extensions import db

    stmt, labels = statement
    db.session.rollback()  # a fresh snapshot, after what the request committed
    row = db.session.execute(stmt).one()
    return dict(zip(labels, (int(v) for v in row)))


class WriteWatch:
    """Whether any statement that may change a row ran, on any engine, since ``clear()``:
    the census (a count of every table) is taken again only then. A row is written only
    by a statement, and every statement the app (and the tests) send goes through
    SQLAlchemy's engines, so a census taken when none ran would find what the last one
    found. Anything but a read or a transaction's start or end counts as a write (a
    PRAGMA or a SET too): a doubt takes the census."""

    READS = frozenset({"SELECT", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SHOW", "EXPLAIN"})

    def __init__(self):
        self.moved = False  # since clear()
        self.writes = 0  # in all: what was read from the database is stale once it moves

    def _note(self, conn, cursor, statement, parameters, context, executemany):
        words = statement.lstrip("( \n\t").split(None, 1)
        if not words or words[0].upper() not in self.READS:
            self.moved = True
            self.writes += 1

    def __enter__(self):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "before_cursor_execute", self._note)

    def clear(self) -> None:
        self.moved = False


def changed(before: dict[str, int], after: dict[str, int], allowed=()) -> dict[str, tuple[int, int]]:
    return {k: (before[k], after[k]) for k in before if before[k] != after[k] and k.split(".")[0] not in allowed}


# -- the world the fuzzers act in ---------------------------------------------------------------------------------

@dataclass
class World:
    ids: dict[str, int]  # name -> id of the objects the forms act on
    users: dict[str, int]  # persona -> user id
    codes: dict[str, str]  # name -> region code
    secrets: dict[str, str] = field(default_factory=dict)  # name -> a one-time secret a form takes


def _scorecards(users) -> dict:
    """实绩考核: last year's scheme still a draft (60 + 30 points: room for one more, one to
    delete); this year's enabled, with the county's scorecard scored but not submitted, another county's
    submitted (for the reviewer) and a third's approved (to publish)."""
    from registry.scorecards import services as scorecards

    province = users["province"]
    computed = {"name": "第一书记覆盖", "weight": "60", "source": "computed", "provider": "first_secretary_share",
                "rule": "linear", "better": "higher", "floor": "0", "target": "100"}
    entered = {"name": "工作创新", "weight": "40", "source": "entered", "rule": "direct"}
    draft = scorecards.create_scheme(province, {"name": "模糊测试草稿方案", "year": str(TODAY.year - 1),
                                                "target_level": "county"})
    scorecards.add_indicator(province, draft, computed)
    to_delete = scorecards.add_indicator(province, draft, {**entered, "weight": "30"})  # 90 points: room for one
    active = scorecards.create_scheme(province, {"name": "模糊测试方案", "year": str(TODAY.year),
                                                 "target_level": "county"})
    scorecards.add_indicator(province, active, computed)
    scorecards.add_indicator(province, active, entered)
    scorecards.activate(province, active)

    def scored(code):
        card = scorecards.start_scorecard(province, active, code)
        scorecards.compute_line(province, card, active.indicators[0])
        scorecards.enter_line(province, card, active.indicators[1], {"value": "30", "note": "依据"})
        return card

    scoring = scored(COUNTY)
    submitted = scorecards.submit(province, scored(OTHER_COUNTY))
    approved = scorecards.approve(users["reviewer"], scorecards.submit(province, scored("433122000000")))
    return {"scheme_draft": draft, "indicator_draft": to_delete, "scheme_active": active,
            "indicator_computed": active.indicators[0], "indicator_entered": active.indicators[1],
            "card_scoring": scoring, "card_submitted": submitted, "card_approved": approved}


def build_world() -> World:
    """Two counties: in one, an organization of each kind the forms act on, with its people,
    postings, records in every state, duty months, results, a course, a summons and a closed
    year with a reopening asked; in the other, the same kinds of objects out of scope.
    Accounts: one per persona."""
    from registry.accounts.services import create_user
    from registry.assessment.services import IncentiveData, issue_to_person, start_rectification
    from registry.closing.services import approve_reopen, close_year, request_reopen
    from registry.records import filing
    from tests.factories_assessment import attend, make_duty, make_result, make_training
    from tests.factories_records import file_record, png_bytes
    from werkzeug.datastructures import FileStorage

    township = first_township(COUNTY)
    v1 = make_village(COUNTY, 1, township=township, is_key=True)
    v2 = make_village(COUNTY, 2, township=township, is_poor=True)
    vf = make_village(OTHER_COUNTY, 1)
    org_a = make_org("backing_unit", name="省测试厅")
    org_c = make_org("backing_unit", region_code=COUNTY, level="county", name="县测试局")
    org_f = make_org("charity", region_code=COUNTY, name="测试慈善基金会")
    org_b = make_org("enterprise", region_code=OTHER_COUNTY, name="外县测试企业")
    helper = make_individual(COUNTY, "测试个人帮扶者", is_veteran=True)
    make_pairing(helper, v1.code, "other")
    pairing_a = make_pairing(org_a, v1.code, "resident")
    make_pairing(org_f, v1.code, "other")
    make_pairing(org_b, vf.code, "enterprise_village")
    person_a = make_person(org_a)
    posting_a = make_posting(person_a, org_a, v2.code, "first_secretary", start=date(2024, 1, 1))
    person_c = make_person(org_c)
    person_b = make_person(org_b)
    person_d = make_person(org_c)  # posted, with no account yet: the county opens one
    make_posting(person_d, org_c, v1.code, "team_member", start=date(2024, 1, 1))
    person_p = make_person(org_c)  # posted, with an account waiting for activation
    make_posting(person_p, org_c, v1.code, "team_member", start=date(2024, 2, 1))
    posting_b = make_posting(person_b, org_b, vf.code, "first_secretary", start=date(2024, 1, 1))

    def user(name, role, **scope):
        return create_user(name, role, password=PASSWORD, **scope)[0]

    users = {
        "admin": user("fz_admin", "admin"),
        "county": user("fz_county", "region", region_code=COUNTY),
        "township": user("fz_township", "region", region_code=township.code),
        "unit": user("fz_unit", "unit", organization_id=org_a.id),
        "unit_b": user("fz_unit_b", "unit", organization_id=org_b.id),
        "fund": user("fz_fund", "unit", organization_id=org_f.id),
        "village": user("fz_village", "village", village_code=v1.code),
        "village_f": user("fz_village_f", "village", village_code=vf.code),
        "other_county": user("fz_other_county", "region", region_code=OTHER_COUNTY),
        # 实绩考核: province staff define, score and publish; a second one reviews
        "province": user("fz_province", "region", region_code="430000000000"),
        "reviewer": user("fz_reviewer", "region", region_code="430000000000"),
        # accounts whose session a form may end or whose secrets it may change
        "login": user("fz_login", "viewer", region_code=COUNTY),
        "logout": user("fz_logout", "viewer", region_code=COUNTY),
        "password": user("fz_password", "viewer", region_code=COUNTY),
        "token": user("fz_token", "viewer", region_code=COUNTY),
        "sessions": user("fz_sessions", "viewer", region_code=COUNTY),
        # accounts the administrator's forms act on
        "target": user("fz_target", "viewer", region_code=COUNTY),
        "disabled": user("fz_disabled", "viewer", region_code=COUNTY),
    }
    db.session.commit()
    from registry.accounts import sessions, tokens
    from registry.accounts.models import ApiToken, LoginSession
    from registry.accounts.services import disable_user

    disable_user(users["disabled"], "调离", actor=users["admin"])
    # a cadre (驻村干部) of person_a, and an account of person_p not yet activated
    from registry.cadres.services import issue_activation
    from tests.factories import make_cadre

    users["cadre"] = make_cadre(person_a, users["unit"], username="fz_cadre")
    pending = issue_activation(person_p, "fz_pending", actor=users["county"])
    sessions.start_session(users["sessions"], address="127.0.0.1", user_agent="fuzz")  # one to end
    tokens.issue_token(users["token"], "模糊测试令牌")  # one to revoke
    login_session = db.session.scalar(select(LoginSession).where(LoginSession.user_id == users["sessions"].id))
    api_token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == users["token"].id))
    draft = file_record(users["unit"], v1.code, status="draft")
    submitted = file_record(users["unit"], v1.code, status="submitted", title="已提交的记录")
    confirmed = file_record(users["unit"], v1.code, status="confirmed", village_user=users["village"], title="已确认的记录")
    other = file_record(users["unit_b"], vf.code, status="submitted", title="外县的记录")
    filing.add_evidence(draft, users["unit"], [FileStorage(io.BytesIO(png_bytes()), "photo.png", content_type="image/png")])
    db.session.commit()
    from registry.records.models import Evidence

    evidence = db.session.scalar(select(Evidence).where(Evidence.record_id == draft.id))
    duty_a = make_duty(posting_a, date(2025, 3, 1))
    duty_b = make_duty(posting_b, date(2025, 3, 1))
    result_a = make_result(v1.code, 2024)
    result_b = make_result(vf.code, 2024)
    training_c = make_training(COUNTY, "rotation", start=date(2025, 5, 10), level="county")
    training_b = make_training(OTHER_COUNTY, "rotation", start=date(2025, 5, 10), level="county")
    attendance_c = attend(training_c, person_a)
    attend(training_b, person_b)
    incentive = issue_to_person(person_a, IncentiveData("summons", TODAY, "county", "在村天数不足"), users["county"])
    rectifying = issue_to_person(person_a, IncentiveData("summons", TODAY, "county", "走访不足"), users["county"])
    start_rectification(rectifying, "已整改", users["unit"])
    # care (关心关爱): a county-dispatched team member the county provides for, with a policy;
    # a grade, and a fault-tolerance case waiting for the county's decision
    from registry.assessment.services import GradeData, assess_posting
    from registry.care.services import CareData, add_care
    from registry.tolerance.services import Application, apply

    person_k = make_person(org_c)
    posting_k = make_posting(person_k, org_c, v2.code, "team_member", start=date(2024, 3, 1), dispatch_level="county")
    care_k = add_care(person_k, CareData(posting_k.id, "insurance", "人身意外伤害保险", date(2025, 1, 1), date(2025, 12, 31),
                                         "300000"), users["county"])
    grade_a = assess_posting(posting_a, GradeData(2025, "称职"), users["county"])
    tolerance_case = apply("summons", rectifying, Application("objective", "暴雨致道路中断"), users["unit"])
    closed = close_year(users["county"], 2021, "freeze", True)
    reopen = request_reopen(closed, users["township"], ["duty"], "需更正", TODAY + timedelta(days=10))
    approved = approve_reopen(request_reopen(closed, users["township"], ["results"], "需更正", TODAY + timedelta(days=10)),
                              users["county"])
    other_closed = close_year(users["other_county"], 2021, "freeze", True)
    # inspections (督查): the province's plan of this year, of the county (a finding open, one
    # rectifying) and of the other county
    from registry.inspections import services as inspections

    plan = inspections.create_plan(users["province"], TODAY.year, "模糊测试督查计划")
    inspection = inspections.add_inspection(plan, users["province"], f"region:{COUNTY}")
    later = (TODAY + timedelta(days=30)).isoformat()
    finding = inspections.add_finding(inspection, users["province"], inspections.FindingData("funds", "资金滞留", later))
    finding_rectifying = inspections.add_finding(inspection, users["province"],
                                                 inspections.FindingData("training", "培训不足", later))
    inspections.rectify(finding_rectifying, "已组织培训", users["county"])
    other_inspection = inspections.add_inspection(plan, users["province"], f"region:{OTHER_COUNTY}")
    inspections.add_finding(other_inspection, users["province"], inspections.FindingData("funds", "外县问题", later))
    # enterprise projects: the county's enterprise in v1 (an entry waiting for v1), and the
    # other county's in vf
    from registry.projects import services as projects

    org_e = make_org("enterprise", region_code=COUNTY, level="county", name="县测试企业")
    project_a = projects.create_project(users["admin"], projects.ProjectData(
        name="测试油茶项目", kind="industry", planned_investment="300万", signed_on="2024-03-01", villages=v1.code,
        organization_id=org_e.id))
    entry_a = projects.record_progress(project_a, users["admin"], projects.ProgressData(
        entry_date="2024-06-01", status_to="building", actual_investment="80万"))
    project_b = projects.create_project(users["admin"], projects.ProjectData(
        name="外县测试项目", kind="consumption", planned_investment="50万", signed_on="2024-03-01", villages=vf.code,
        organization_id=org_b.id))
    entry_b = projects.record_progress(project_b, users["admin"], projects.ProgressData(entry_date="2024-06-01",
                                                                                       note="开工"))
    from registry.notifications import notify
    from registry.notifications.models import OutboundEmail

    [notification] = notify("record_chased", [users["village"]], title="模糊测试通知", link="/records/")
    failed_email = OutboundEmail(to_address="fuzz@example.gov.cn", subject="模糊测试邮件", body="…", status="failed",
                                 attempts=6, last_error="SMTPServerDisconnected")
    db.session.add(failed_email)
    db.session.commit()
    scorecard_objects = _scorecards(users)
    objects = {
        **scorecard_objects,
        "org_a": org_a, "org_b": org_b, "org_c": org_c, "org_f": org_f, "pairing_a": pairing_a, "helper": helper,
        "person_a": person_a, "person_b": person_b, "person_c": person_c, "person_d": person_d, "posting_a": posting_a, "posting_b": posting_b,
        "record_draft": draft, "record_submitted": submitted, "record_confirmed": confirmed, "record_other": other,
        "evidence": evidence, "duty_a": duty_a, "duty_b": duty_b, "result_a": result_a, "result_b": result_b,
        "training_c": training_c, "training_b": training_b, "attendance_c": attendance_c, "incentive": incentive,
        "incentive_rectifying": rectifying, "reopen_approved": approved,
        "person_k": person_k, "care_k": care_k, "grade_a": grade_a, "tolerance_case": tolerance_case,
        "year_close": closed, "other_close": other_closed, "reopen": reopen,
        "plan": plan, "inspection": inspection, "finding": finding, "finding_rectifying": finding_rectifying,
        "target_user": users["target"], "disabled_user": users["disabled"], "login_session": login_session,
        "api_token": api_token, "notification": notification, "failed_email": failed_email,
        "org_e": org_e, "project_a": project_a, "entry_a": entry_a, "project_b": project_b, "entry_b": entry_b,
    }
    return World(ids={k: v.id for k, v in objects.items()}, users={k: v.id for k, v in users.items()},
                 codes={"v1": v1.code, "v2": v2.code, "vf": vf.code, "township": township.code},
                 secrets={"activation_code": pending.code})
