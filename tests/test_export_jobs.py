"""Large exports run as jobs: queued by the page, written by `flask jobs work`, downloaded
by their owner only, with the owner's scope and an audit record when they run."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.transfer import jobs
from registry.transfer.models import TransferJob
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_person, make_posting, make_village


@pytest.fixture()
def small_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_EXPORT_JOB_ROWS", 3)


def _people(db, county: str, n: int, prefix: str):
    org = make_org("backing_unit", county, name=f"{prefix}单位")
    return [make_person(org, name=f"{prefix}{i:02d}") for i in range(n)]


def _csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _exports(db) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "export"))


def test_a_large_export_becomes_a_job_the_owner_downloads(db, make_user, login_as, small_limit):
    _people(db, COUNTY, 5, "本县")
    _people(db, OTHER_COUNTY, 4, "外县")
    county = login_as(make_user("region", region_code=COUNTY))

    response = county.get("/people/export.csv?posted=&purpose=核对名单")
    assert response.status_code == 302 and "/import/jobs/" in response.headers["Location"]
    job_url = response.headers["Location"]
    page = county.get(job_url).get_data(as_text=True)
    assert "排队中" in page and 'http-equiv="refresh"' in page and "导出帮扶干部" in page
    assert _exports(db) == 0  # audited when it runs, not when it is queued
    assert county.get(job_url + "/download").status_code == 404  # nothing yet

    assert jobs.work(once=True) == 1
    job = db.session.scalar(select(TransferJob))
    db.session.refresh(job)
    assert (job.action, job.kind, job.status) == ("export", "people", "done")
    page = county.get(job_url).get_data(as_text=True)
    assert "已完成" in page and "导出完成：共 5 行" in page and "/download" in page

    download = county.get(job_url + "/download")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    rows = _csv_rows(download.data)
    assert rows[0][0] == "姓名"
    names = sorted(r[0] for r in rows[1:])
    assert names == [f"本县{i:02d}" for i in range(5)]  # the county's people only: the owner's scope
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export"))
    assert event.actor == county.user.username and "5 人" in event.summary

    # nobody else sees the job or its file: another county, and an administrator
    for other in (make_user("region", region_code=OTHER_COUNTY), make_user("admin")):
        session = login_as(other)
        assert session.get(job_url).status_code == 404
        assert session.get(job_url + "/download").status_code == 404


def test_the_worker_writes_xlsx_with_the_filters_and_the_cli_runs_it(db, make_user, login_as, runner, small_limit):
    village = make_village(COUNTY)
    org = make_org("backing_unit", COUNTY, name="县直单位")
    people = [make_person(org, name=f"干部{i}") for i in range(6)]
    for person in people[:4]:
        make_posting(person, org, village.code, role="work_team")
    county = login_as(make_user("region", region_code=COUNTY))

    response = county.get("/postings/export.xlsx?purpose=核对名单")
    assert response.status_code == 302
    result = runner.invoke(args=["jobs", "work", "--once"])
    assert result.exit_code == 0 and "已运行 1 个任务" in result.output
    download = county.get(response.headers["Location"] + "/download")
    assert download.status_code == 200
    book = load_workbook(io.BytesIO(download.data))
    sheet = book.worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 5 and {r[0] for r in values[1:]} == {"干部0", "干部1", "干部2", "干部3"}
    assert book.worksheets[1]["A1"].value == "内容"


def test_small_exports_still_answer_at_once(db, make_user, login_as, small_limit):
    _people(db, COUNTY, 3, "本县")
    county = login_as(make_user("region", region_code=COUNTY))
    response = county.get("/people/export.csv?purpose=核对名单")
    assert response.status_code == 200 and len(_csv_rows(response.data)) == 4
    assert db.session.scalar(select(func.count()).select_from(TransferJob)) == 0


def test_filters_travel_with_the_job(db, make_user, login_as, small_limit):
    for name in ("甲", "乙"):
        org = make_org("backing_unit", COUNTY, name=f"{name}局")
        for i in range(4):
            make_person(org, name=f"{name}干部{i}")
    county = login_as(make_user("region", region_code=COUNTY))
    response = county.get("/people/export.csv?q=甲干部&purpose=核对名单")
    assert response.status_code == 302
    jobs.work(once=True)
    rows = _csv_rows(county.get(response.headers["Location"] + "/download").data)
    assert sorted(r[0] for r in rows[1:]) == [f"甲干部{i}" for i in range(4)]


def test_a_job_whose_owner_lost_the_permission_fails_without_a_file(app, db, make_user, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_EXPORT_JOB_ROWS", -1)
    user = make_user("region", region_code=COUNTY)
    county = login_as(user)
    response = county.get("/audit/export.csv")
    assert response.status_code == 302
    user.role, user.region_code, user.village_code = "village", None, make_village(COUNTY).code  # may not read the trail
    db.session.commit()
    jobs.work(once=True)
    job = db.session.scalar(select(TransferJob))
    db.session.refresh(job)
    assert job.status == "failed" and job.output is None and "无权导出" in job.report["summary"]
    assert _exports(db) == 0
    assert county.get(response.headers["Location"] + "/download").status_code in (302, 404)


def test_the_scope_is_the_owners_when_the_job_runs(db, make_user, login_as, small_limit):
    _people(db, COUNTY, 5, "本县")
    _people(db, OTHER_COUNTY, 4, "外县")
    user = make_user("region", region_code=COUNTY)
    county = login_as(user)
    response = county.get("/people/export.csv?purpose=核对名单")
    user.region_code = OTHER_COUNTY  # moved before the worker ran: the old county is no longer theirs
    db.session.commit()
    jobs.work(once=True)
    rows = _csv_rows(county.get(response.headers["Location"] + "/download").data)
    assert sorted(r[0] for r in rows[1:]) == [f"外县{i:02d}" for i in range(4)]


@pytest.mark.parametrize("url", [
    "/records/export.csv", "/records/overdue/export.csv", "/training/export.csv", "/assessment/export.csv",
    "/incentives/export.csv", "/audit/export.csv", "/duty/export.csv", "/results/export.csv",
    "/organizations/export.csv", "/pairings/export.csv", "/people/export.csv", "/postings/export.csv",
    "/records/funds/export.csv", "/gaps/430000000000/export.csv", "/inspections/export.csv",
])
def test_every_export_is_a_job_when_large(app, db, make_user, login_as, monkeypatch, url):
    """Every export view is marked, so each can be queued and replayed by name."""
    from registry.transfer.exports import EXPORTS

    view = app.view_functions[app.url_map.bind("localhost").match(url)[0]]
    assert getattr(view, "_export_name", None) in EXPORTS
    monkeypatch.setitem(app.config, "REGISTRY_EXPORT_JOB_ROWS", -1)  # even an empty export is "large"
    admin = login_as(make_user("admin"))
    response = admin.get(url)
    assert response.status_code == 302 and "/import/jobs/" in response.headers["Location"], url
    jobs.work(once=True)
    job = db.session.scalar(select(TransferJob))
    db.session.refresh(job)
    assert job.status == "done", job.report
    assert admin.get(response.headers["Location"] + "/download").status_code == 200


def test_my_jobs_page_lists_only_my_jobs_and_old_files_expire(app, db, make_user, login_as, small_limit, runner):
    """我的导入导出: the owner's jobs with their results; another user's job is not listed.
    After REGISTRY_JOB_KEEP_DAYS the files go (the worker, or `flask jobs clean`), the rows
    stay, the page says the file expired and its download is gone."""
    from datetime import timedelta

    from registry.core.timeutil import utcnow

    _people(db, COUNTY, 5, "本县")
    _people(db, OTHER_COUNTY, 4, "外县")
    county = login_as(make_user("region", region_code=COUNTY))
    other = login_as(make_user("region", region_code=OTHER_COUNTY))
    mine = county.get("/people/export.csv?posted=&purpose=核对名单").headers["Location"]
    theirs = other.get("/people/export.csv?posted=&purpose=核对名单").headers["Location"]
    assert jobs.work(once=True) == 2

    page = county.get("/import/jobs").get_data(as_text=True)
    assert "我的导入导出" in page and "导出帮扶干部" in page and "导出完成：共 5 行" in page
    assert mine in page and theirs not in page and "共 4 行" not in page
    assert "我的导入导出" in county.get("/").get_data(as_text=True)  # linked from every page

    job = db.session.scalar(select(TransferJob).where(TransferJob.id == int(mine.rsplit("/", 1)[1])))
    output = Path(app.config["UPLOAD_FOLDER"]) / "jobs" / job.output
    assert output.is_file() and jobs.expire_files() == 0  # recent: kept
    old = utcnow() - timedelta(days=app.config["REGISTRY_JOB_KEEP_DAYS"] + 1)
    db.session.execute(TransferJob.__table__.update().where(TransferJob.id == job.id).values(finished_at=old))
    db.session.commit()
    result = runner.invoke(args=["jobs", "clean"])
    assert result.exit_code == 0 and "已删除 1 个" in result.output, result.output
    assert not output.exists() and db.session.get(TransferJob, job.id) is not None  # the row stays
    assert county.get(mine + "/download").status_code == 404
    page = county.get(mine).get_data(as_text=True)
    assert "过期删除" in page and "请重新导出" in page and "/download" not in page
    assert "已过期删除" in county.get("/import/jobs").get_data(as_text=True)
    assert other.get(theirs + "/download").status_code == 200  # another's recent file is untouched
