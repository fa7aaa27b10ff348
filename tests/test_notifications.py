"""Notifications (issue 14): each event tells the right users in the site and, by their
choice, by e-mail through a local SMTP server (aiosmtpd); the daily digest; a failed
delivery retried with backoff; the scan's idempotence; a user sees only their own."""
from __future__ import annotations

import socket
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select

from registry.core.timeutil import local_today
from registry.extensions import db
from tests.factories import COUNTY, first_township, make_org, make_person, make_posting, make_village
from tests.factories_assessment import make_duty, make_result

TODAY = local_today()


# -- a local SMTP server for the module ---------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def subjects(self, to: str | None = None) -> list[str]:
        return [str(m["Subject"]) for rcpt, m in self.messages if to is None or to in rcpt]


@pytest.fixture(scope="module")
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture()
def inbox(app, smtp_server, monkeypatch):
    """E-mail switched on, to the module's server; an empty inbox."""
    port, box = smtp_server
    box.messages.clear()
    for key, value in {"REGISTRY_SMTP_HOST": "127.0.0.1", "REGISTRY_SMTP_PORT": port, "REGISTRY_SMTP_TLS": "none",
                       "REGISTRY_SMTP_SENDER": "registry@example.gov.cn", "REGISTRY_SITE_URL": "https://bangfu.example",
                       "REGISTRY_SMTP_TIMEOUT_SECONDS": 5}.items():
        monkeypatch.setitem(app.config, key, value)
    return box


def wants(user, mode="email", email=None, kinds=None):
    from registry.notifications.kinds import KINDS
    from registry.notifications.services import save_preferences

    save_preferences(user, email or f"{user.username}@example.gov.cn", {k: mode for k in (kinds or KINDS)})


def notes_of(user, kind=None):
    from registry.notifications.models import Notification

    stmt = select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return list(db.session.scalars(stmt))


def deliver(now=None):
    from registry.notifications.delivery import deliver_once

    return deliver_once(now)


def told(user, kind, inbox, *, title_part: str = "") -> None:
    """``user`` has one notification of ``kind`` in the site, and its e-mail arrives."""
    notes = notes_of(user, kind)
    assert len(notes) == 1, [(n.kind, n.title) for n in notes_of(user)]
    assert title_part in notes[0].title
    result = deliver()
    assert result.sent >= 1, result
    subjects = inbox.subjects(f"{user.username}@example.gov.cn")
    assert any(notes[0].title in s for s in subjects), subjects


# -- a small world: a village, its township and county, a unit posting a first secretary ---------

@pytest.fixture()
def w(db, make_user):
    class W:
        pass

    world = W()
    township = first_township(COUNTY)
    world.village = make_village(COUNTY, 1, township=township)
    world.org = make_org(region_code=COUNTY, level="county")
    world.person = make_person(world.org)
    world.posting = make_posting(world.person, world.org, world.village.code, dispatch_level="county",
                                 start=TODAY - timedelta(days=400), planned_end=TODAY + timedelta(days=20))
    from tests.factories import make_pairing

    make_pairing(world.org, world.village.code)
    world.unit = make_user("unit", "n_unit", organization_id=world.org.id)
    world.village_user = make_user("village", "n_village", village_code=world.village.code)
    world.county = make_user("region", "n_county", region_code=COUNTY)
    world.township = make_user("region", "n_township", region_code=township.code)
    world.admin = make_user("admin", "n_admin")
    return world


# -- each event ------------------------------------------------------------------------------------

def test_a_submitted_record_tells_the_village(w, inbox):
    from tests.factories_records import file_record

    wants(w.village_user)
    file_record(w.unit, w.village.code, status="submitted", title="捐建产业路")
    told(w.village_user, "record_submitted", inbox, title_part="捐建产业路")
    assert notes_of(w.unit) == []  # the actor is not told of their own act
    mail = inbox.messages[-1][1]
    assert "https://bangfu.example/records/" in mail.get_content()
    assert "registry@example.gov.cn" in str(mail["From"])


@pytest.mark.parametrize("decision", ["confirmed", "disputed"])
def test_the_villages_decision_tells_the_unit(w, inbox, decision):
    from tests.factories_records import file_record

    wants(w.unit)
    file_record(w.unit, w.village.code, status=decision, village_user=w.village_user, reason="金额不符")
    told(w.unit, f"record_{decision}", inbox)
    if decision == "disputed":
        assert "金额不符" in notes_of(w.unit)[0].body


def test_an_overdue_record_tells_the_unit_once(w, inbox, app):
    from registry.notifications.scan import scan
    from registry.records.models import SupportRecord
    from tests.factories_records import file_record

    wants(w.unit)
    record = file_record(w.unit, w.village.code, status="submitted")
    record.submitted_at = datetime.utcnow() - timedelta(days=app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"] + 1)
    db.session.commit()
    assert scan().counts["record_overdue"] == 1
    told(w.unit, "record_overdue", inbox)
    assert scan().counts["record_overdue"] == 0  # never the same item twice for the same reason
    assert len(notes_of(w.unit, "record_overdue")) == 1
    assert db.session.get(SupportRecord, record.id).status == "submitted"


def test_a_posting_ending_tells_the_dispatching_county_and_the_unit(w, inbox, runner):
    wants(w.county)
    wants(w.unit)
    result = runner.invoke(args=["notify", "scan"])
    assert result.exit_code == 0, result.output
    assert "即将期满的选派 1 个" in result.output
    for user in (w.county, w.unit):
        notes = notes_of(user, "posting_ending")
        assert len(notes) == 1 and w.person.name in notes[0].title and "还有20天" in notes[0].title
    assert notes_of(w.township, "posting_ending") == []  # not the dispatching level
    assert runner.invoke(args=["notify", "scan"]).output.count("即将期满的选派 0 个") == 1
    deliver()
    assert len([s for s in inbox.subjects() if "选派即将期满" in s]) == 2


def test_missing_pre_posting_training_is_told_once(w, inbox):
    from registry.notifications.scan import scan

    wants(w.unit)
    assert scan().counts["training_missing"] == 1  # started 400 days ago, no training
    told(w.unit, "training_missing", inbox, title_part=w.person.name)
    assert scan().counts["training_missing"] == 0


def test_a_returned_duty_month_tells_the_filer_and_the_village(w, inbox):
    from registry.duty.services import return_month

    wants(w.village_user)
    duty = make_duty(w.posting, date(TODAY.year, 1, 1) if TODAY.month > 1 else date(TODAY.year - 1, 12, 1),
                     filed_by_id=w.village_user.id)
    return_month(duty, "在村天数与考勤不符", w.township)
    told(w.village_user, "duty_returned", inbox, title_part=w.person.name)
    assert "在村天数与考勤不符" in notes_of(w.village_user)[0].body


def test_a_returned_village_result_tells_the_village(w, inbox):
    from registry.results.services import return_result

    wants(w.village_user)
    result = make_result(w.village.code, year=TODAY.year - 1, filed_by_id=w.village_user.id)
    return_result(result, "收入数据有误", w.township)
    told(w.village_user, "result_returned", inbox)


def test_a_summons_and_each_step_tell_the_subject_and_the_issuer(w, inbox):
    from registry.assessment.services import IncentiveData, close_summons, issue_to_person, start_rectification

    wants(w.unit)
    wants(w.county)
    summons = issue_to_person(w.person, IncentiveData("summons", TODAY, "county", "在村天数不足"), w.county)
    told(w.unit, "summons", inbox, title_part=w.person.name)
    assert notes_of(w.county) == [] or all(n.kind != "summons" for n in notes_of(w.county))
    start_rectification(summons, "已补足在村天数", w.unit)
    assert [n.title for n in notes_of(w.county, "summons")] == [f"约谈已登记整改：{w.person.name}"]
    close_summons(summons, "整改到位", w.county)
    assert len(notes_of(w.unit, "summons")) == 2
    deliver()
    assert len(inbox.subjects(f"{w.county.username}@example.gov.cn")) == 1
    assert len(inbox.subjects(f"{w.unit.username}@example.gov.cn")) == 2


def test_a_reopening_request_and_its_decision(w, inbox):
    from registry.closing.services import approve_reopen, close_year, request_reopen

    wants(w.county)
    wants(w.township)
    closed = close_year(w.county, 2021, "freeze", True)
    request = request_reopen(closed, w.township, ["duty"], "需更正", TODAY + timedelta(days=10))
    told(w.county, "reopen", inbox, title_part="待审批")
    approve_reopen(request, w.county)
    assert [n.title[:8] for n in notes_of(w.township, "reopen")] == ["重新开放申请批准"]


def test_the_chase_up_kinds_are_declared_for_the_other_work(w, inbox):
    from registry.notifications import notify, recipients

    wants(w.village_user)
    for kind in ("record_chased", "item_escalated"):
        notify(kind, recipients.village_users(w.village.code), title=f"{kind} 测试", link="/records/")
    db.session.commit()
    assert [n.kind for n in notes_of(w.village_user)] == ["record_chased", "item_escalated"]
    with pytest.raises(ValueError):
        notify("no_such_kind", [w.village_user], title="x")


# -- how a user chose to be told ----------------------------------------------------------------------

def test_in_app_only_sends_no_email(w, inbox):
    from registry.notifications.models import OutboundEmail
    from tests.factories_records import file_record

    wants(w.village_user, mode="app")
    file_record(w.unit, w.village.code, status="submitted")
    assert len(notes_of(w.village_user, "record_submitted")) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0
    assert deliver().sent == 0 and inbox.messages == []


def test_nothing_is_queued_or_sent_while_no_smtp_host_is_set(w, app, runner, monkeypatch):
    from registry.notifications.models import OutboundEmail
    from tests.factories_records import file_record

    monkeypatch.setitem(app.config, "REGISTRY_SMTP_HOST", "")
    wants(w.village_user)
    file_record(w.unit, w.village.code, status="submitted")
    assert len(notes_of(w.village_user)) == 1  # still told in the site
    assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0
    result = runner.invoke(args=["notify", "deliver"])
    assert result.exit_code == 0 and "未设置 SMTP 服务器" in result.output


def test_the_daily_digest_gathers_the_days_items_in_one_email(w, inbox, app, monkeypatch):
    from registry.notifications.models import Notification
    from tests.factories_records import file_record

    monkeypatch.setitem(app.config, "REGISTRY_DIGEST_HOUR", 8)
    wants(w.village_user, mode="digest")
    file_record(w.unit, w.village.code, status="submitted", title="第一条记录")
    file_record(w.unit, w.village.code, status="submitted", title="第二条记录")
    day = datetime.utcnow().date() + timedelta(days=1)
    before_hour = datetime.combine(day, datetime.min.time()) - timedelta(hours=1)  # 07:00 in Hunan
    after_hour = datetime.combine(day, datetime.min.time()) + timedelta(hours=1)  # 09:00 in Hunan
    assert deliver(before_hour).digests == 0 and inbox.messages == []
    result = deliver(after_hour)
    assert (result.digests, result.sent) == (1, 1)
    [(rcpt, mail)] = inbox.messages
    body = mail.get_content()
    assert "每日通知汇总" in str(mail["Subject"]) and "2 条" in str(mail["Subject"])
    assert "第一条记录" in body and "第二条记录" in body and "【帮扶记录待本村确认】2 条" in body
    assert {n.email_state for n in db.session.scalars(select(Notification))} == {"digested"}
    file_record(w.unit, w.village.code, status="submitted", title="第三条记录")
    assert deliver(after_hour + timedelta(hours=2)).digests == 0  # one digest a day
    assert deliver(after_hour + timedelta(days=1)).digests == 1  # the next day's
    assert "第三条记录" in inbox.messages[-1][1].get_content()


def test_a_failed_delivery_is_retried_with_backoff_then_succeeds(w, inbox, app, monkeypatch):
    from registry.notifications.models import OutboundEmail
    from tests.factories_records import file_record

    port = app.config["REGISTRY_SMTP_PORT"]
    monkeypatch.setitem(app.config, "REGISTRY_EMAIL_RETRY_SECONDS", 60)
    monkeypatch.setitem(app.config, "REGISTRY_SMTP_PORT", _free_port())  # nobody listens: refused
    wants(w.village_user)
    file_record(w.unit, w.village.code, status="submitted")
    now = datetime.utcnow()
    result = deliver(now)
    assert (result.sent, result.retried) == (0, 1)
    email = db.session.scalar(select(OutboundEmail))
    assert (email.status, email.attempts) == ("queued", 1)
    assert email.next_attempt_at == now + timedelta(seconds=60) and email.last_error
    assert deliver(now + timedelta(seconds=30)).retried == 0  # not due yet
    assert deliver(now + timedelta(seconds=61)).retried == 1
    db.session.refresh(email)
    assert email.attempts == 2 and email.next_attempt_at == now + timedelta(seconds=61 + 120)  # doubled
    monkeypatch.setitem(app.config, "REGISTRY_SMTP_PORT", port)  # the server is back
    assert deliver(now + timedelta(seconds=200)).sent == 1
    db.session.refresh(email)
    assert (email.status, email.attempts, email.last_error) == ("sent", 3, None)
    assert len(inbox.messages) == 1


def test_after_the_last_attempt_the_administrator_sees_the_failure_and_sends_again(w, inbox, app, monkeypatch,
                                                                                    login_as):
    from registry.notifications.models import OutboundEmail
    from tests.factories_records import file_record

    monkeypatch.setitem(app.config, "REGISTRY_EMAIL_MAX_ATTEMPTS", 1)
    port = app.config["REGISTRY_SMTP_PORT"]
    monkeypatch.setitem(app.config, "REGISTRY_SMTP_PORT", _free_port())
    wants(w.village_user)
    file_record(w.unit, w.village.code, status="submitted")
    assert deliver().failed == 1
    email = db.session.scalar(select(OutboundEmail))
    admin = login_as(w.admin)
    page = admin.get("/admin/notifications/outbox").get_data(as_text=True)
    assert "发送失败 (1)" in page and "n_village@example.gov.cn" in page and "ConnectionRefusedError" in page
    assert "有 1 封通知邮件发送失败" in admin.get("/admin/settings").get_data(as_text=True)
    assert login_as(w.county).get("/admin/notifications/outbox").status_code == 403
    assert admin.post(f"/admin/notifications/outbox/{email.id}/retry").status_code == 302
    db.session.refresh(email)
    assert (email.status, email.attempts) == ("queued", 0)
    monkeypatch.setitem(app.config, "REGISTRY_SMTP_PORT", port)
    assert deliver().sent == 1


def test_bad_tls_setting_is_named_and_nothing_is_sent(w, inbox, app, monkeypatch, login_as):
    monkeypatch.setitem(app.config, "REGISTRY_SMTP_TLS", "tls1.3")
    assert "REGISTRY_SMTP_TLS" in deliver().skipped
    assert "REGISTRY_SMTP_TLS 只能是" in login_as(w.admin).get("/admin/settings").get_data(as_text=True)


# -- the pages: one's own notifications only -------------------------------------------------------------

def _two_notes(w):
    from registry.notifications import notify

    notify("record_submitted", [w.village_user], title="给村的通知", link="/records/")
    notify("summons", [w.unit], title="给单位的通知")
    db.session.commit()
    return notes_of(w.village_user)[0], notes_of(w.unit)[0]


def test_the_bell_counts_the_unread_and_the_list_filters(w, login_as):
    mine, _ = _two_notes(w)
    village = login_as(w.village_user)
    home = village.get("/").get_data(as_text=True)
    assert 'id="bell"' in home and "1 条未读" in home
    page = village.get("/notifications/").get_data(as_text=True)
    assert "给村的通知" in page and "给单位的通知" not in page
    assert "给村的通知" not in village.get("/notifications/?state=read").get_data(as_text=True)
    assert "给村的通知" not in village.get("/notifications/?kind=summons").get_data(as_text=True)
    response = village.post(f"/notifications/{mine.id}/read", data={"go": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/records/")
    db.session.refresh(mine)
    assert mine.read_at is not None
    assert "条未读" not in village.get("/").get_data(as_text=True)
    assert "给村的通知" in village.get("/notifications/?state=read").get_data(as_text=True)


def test_another_users_notification_is_a_404_even_to_an_administrator(w, login_as):
    mine, theirs = _two_notes(w)
    assert login_as(w.village_user).post(f"/notifications/{theirs.id}/read").status_code == 404
    assert login_as(w.admin).post(f"/notifications/{theirs.id}/read").status_code == 404
    assert login_as(w.admin).post("/notifications/987654321/read").status_code == 404
    db.session.refresh(theirs)
    assert theirs.read_at is None


def test_mark_all_read_touches_only_ones_own(w, login_as):
    mine, theirs = _two_notes(w)
    response = login_as(w.village_user).post("/notifications/read-all")
    assert response.status_code == 302
    db.session.refresh(mine)
    db.session.refresh(theirs)
    assert mine.read_at is not None and theirs.read_at is None


def test_preferences_page_from_the_account(w, login_as):
    from registry.notifications.services import preferences

    session = login_as(w.unit)
    assert "/account/notifications" in session.get("/account").get_data(as_text=True)
    page = session.get("/account/notifications").get_data(as_text=True)
    assert "帮扶记录被村提出异议" in page and "每日汇总" in page
    refused = session.post("/account/notifications", data={"email": "", "mode_record_disputed": "email"})
    assert refused.status_code == 422 and "请填写接收通知的电子邮箱" in refused.get_data(as_text=True)
    bad = session.post("/account/notifications", data={"email": "不是邮箱", "mode_record_disputed": "email"})
    assert bad.status_code == 422 and "请填写正确的电子邮箱地址" in bad.get_data(as_text=True)
    assert preferences(w.unit) == ("", {k: "app" for k in preferences(w.unit)[1]})  # nothing half-written
    ok = session.post("/account/notifications", data={"email": "unit@example.gov.cn", "mode_record_disputed": "digest"})
    assert ok.status_code == 302
    email, modes = preferences(w.unit)
    assert email == "unit@example.gov.cn" and modes["record_disputed"] == "digest" and modes["summons"] == "app"


def test_the_delivery_loop_runs_the_daily_work_once_a_day(app, monkeypatch):
    """``flask notify deliver --loop`` (what ``make run`` starts) also does once a day what
    cron does in production: the scan and the escalation."""
    import time_machine

    from registry.notifications import delivery

    calls, passes = [], []

    def sleep(_):
        passes.append(1)
        if len(passes) == 2:
            traveller.shift(timedelta(days=1))
        if len(passes) == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(delivery.time, "sleep", sleep)
    with time_machine.travel(datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc), tick=False) as traveller:
        with pytest.raises(KeyboardInterrupt):
            delivery.deliver(loop=True, poll=0, daily=lambda: calls.append(delivery.utcnow().date()))
    assert calls == [date(2026, 12, 1), date(2026, 12, 2)]  # four passes over two days: twice
