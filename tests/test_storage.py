"""The file store (registry/core/storage.py): a local folder or an S3-compatible bucket,
the latter tested against a local S3 server (moto's server mode) started by the tests.
Every file the app keeps goes through it: evidence and thumbnails, kept form uploads,
job inputs, results and progress, import error sheets (backups of a bucket: test_backup.py)."""
from __future__ import annotations

import functools
import io
import os
from pathlib import Path

import boto3
import pytest
from sqlalchemy import func, select

from registry.core import storage
from registry.records.models import Evidence
from registry.transfer import jobs
from registry.transfer.models import TransferJob
from tests.conftest import s3_settings
from tests.factories import COUNTY, make_org, make_person
from tests.factories_records import file_record, pdf_bytes, png_bytes, record_data, world  # noqa: F401
from tests.test_evidence import _upload


@functools.cache
def _client(endpoint: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test-key",
                        aws_secret_access_key="test-secret")


def _objects(settings: dict, prefix: str = "") -> dict[str, bytes]:
    client = _client(settings["STORAGE_S3_ENDPOINT_URL"])
    listed = client.list_objects_v2(Bucket=settings["STORAGE_S3_BUCKET"], Prefix=prefix).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=settings["STORAGE_S3_BUCKET"], Key=o["Key"])["Body"].read()
            for o in listed}


def _local_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_FOLDER"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture(params=["local", "s3"])
def a_store(request, tmp_path, s3_server):
    if request.param == "local":
        return storage.LocalStore(tmp_path / "files")
    settings = s3_settings(s3_server)
    return storage.S3Store(settings["STORAGE_S3_BUCKET"], prefix="site-a", endpoint_url=s3_server,
                           region="us-east-1", access_key="test-key", secret_key="test-secret")


def test_round_trip_listing_and_missing_objects_on_both_backends(a_store, tmp_path):
    a_store.put("records/ab/ab01.jpg", b"photo")
    a_store.put("records/ab/ab01.jpg", b"photo, again")  # replaced whole
    a_store.put("jobs/7.progress", b"3/10")
    assert a_store.read("records/ab/ab01.jpg") == b"photo, again"
    assert a_store.exists("jobs/7.progress") and not a_store.exists("jobs/8.progress")
    assert [(e.key, e.size) for e in a_store.entries("records")] == [("records/ab/ab01.jpg", 12)]
    assert [e.key for e in a_store.entries("pending")] == []

    scratch = tmp_path / "export.csv.part"
    scratch.write_bytes(b"a,b\r\n")
    a_store.put_file("jobs/7-export.csv", scratch)
    assert a_store.read("jobs/7-export.csv") == b"a,b\r\n" and not scratch.exists()

    a_store.delete("records/ab/ab01.jpg")
    a_store.delete("records/ab/ab01.jpg")  # absent: no error
    with pytest.raises(storage.Missing):
        a_store.read("records/ab/ab01.jpg")
    with pytest.raises(FileNotFoundError):  # Missing is one
        a_store.read("records/zz/nothing.pdf")


@pytest.mark.parametrize("bad", ["../secret", "records/../../etc/passwd", "/etc/passwd", "a//b", "", "a/.", "-x"])
def test_keys_cannot_name_anything_else(bad, tmp_path):
    with pytest.raises(ValueError):
        storage.key(bad)
    with pytest.raises(ValueError):
        storage.LocalStore(tmp_path).put(bad, b"x")


def test_a_bucket_needs_keys_from_the_environment(monkeypatch, tmp_path):
    from registry.config import load_config

    for name in ("SECRET_KEY", "DATA_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STORAGE_S3_BUCKET", "registry")
    with pytest.raises(RuntimeError, match="SECRET_KEY and DATA_KEY"):
        load_config(str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "s")
    monkeypatch.setenv("DATA_KEY", "d")
    assert load_config(str(tmp_path))["STORAGE_S3_BUCKET"] == "registry"
    monkeypatch.delenv("STORAGE_S3_BUCKET")
    assert isinstance(storage.from_config(load_config(str(tmp_path))), storage.LocalStore)


def test_evidence_goes_to_the_bucket_and_is_served_from_it(app, db, login_as, world, s3_bucket):
    record = file_record(world.unit, world.village.code)
    session = login_as(world.unit)
    photo, pdf = png_bytes(), pdf_bytes()
    assert _upload(session, record, ("现场.png", photo), ("协议.pdf", pdf)).status_code == 302
    items = db.session.scalars(select(Evidence).order_by(Evidence.id)).all()
    stored = _objects(s3_bucket, "records/")
    assert stored == {f"records/{e.stored_name[:2]}/{e.stored_name}": data for e, data in zip(items, (photo, pdf))}
    assert _local_files(app) == []  # nothing in UPLOAD_FOLDER

    answer = session.get(f"/records/{record.id}/evidence/{items[0].id}")
    assert answer.status_code == 200 and answer.data == photo and answer.mimetype == "image/png"
    assert answer.headers["Cache-Control"] == "private, no-store" and answer.headers["Content-Length"] == str(len(photo))
    answer = session.get(f"/records/{record.id}/evidence/{items[1].id}")
    assert answer.data == pdf and answer.headers["Content-Disposition"].startswith("attachment")
    assert "filename*=UTF-8''%E5%8D%8F%E8%AE%AE.pdf" in answer.headers["Content-Disposition"]
    thumb = session.get(f"/records/{record.id}/evidence/{items[0].id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and thumb.data[:2] == b"\xff\xd8"
    assert any(k.startswith("records/thumbs/") for k in _objects(s3_bucket, "records/thumbs/"))

    # out of scope: a 404 from the app, whatever the bucket holds
    outsider = login_as(world.other_unit)
    assert outsider.get(f"/records/{record.id}/evidence/{items[0].id}").status_code == 404

    # a correction's copy and a deletion go through the bucket too
    session.post(f"/records/{record.id}/evidence/{items[1].id}/delete", data={"csrf_token": session.token})
    assert f"records/{items[1].stored_name[:2]}/{items[1].stored_name}" not in _objects(s3_bucket, "records/")


def test_a_missing_object_is_a_404_not_a_500(app, db, login_as, world, s3_bucket):
    record = file_record(world.unit, world.village.code)
    session = login_as(world.unit)
    _upload(session, record, ("现场.png", png_bytes()))
    item = db.session.scalar(select(Evidence))
    _client(s3_bucket["STORAGE_S3_ENDPOINT_URL"]).delete_object(Bucket=s3_bucket["STORAGE_S3_BUCKET"],
                                     Key=f"records/{item.stored_name[:2]}/{item.stored_name}")
    assert session.get(f"/records/{record.id}/evidence/{item.id}").status_code == 404
    assert session.get(f"/records/{record.id}/evidence/{item.id}/thumb").status_code == 404
    assert session.get("/import/errors/" + "x" * 32 + ".xlsx").status_code == 404


def test_size_limits_hold_with_a_bucket(app, db, login_as, world, s3_bucket, monkeypatch):
    from registry.records import evidence

    record = file_record(world.unit, world.village.code)
    session = login_as(world.unit)
    too_big = b"\xff\xd8\xff\xe0" + b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    assert _upload(session, record, ("big.jpg", too_big)).status_code == 413  # the whole request
    monkeypatch.setattr(evidence, "max_bytes", lambda: 100)  # one file (REGISTRY_MAX_UPLOAD_MB)
    response = _upload(session, record, ("large.png", png_bytes()))
    assert response.status_code == 422 and "MB 的大小限制" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Evidence)) == 0 and _objects(s3_bucket) == {}


def test_a_refused_forms_photo_waits_in_the_bucket(app, db, login_as, world, s3_bucket):
    """Evidence kept from a refused form lives in the store too: the next request, on any
    host, finds it; the worker's clean-up expires it there."""
    from registry.records import pending

    session = login_as(world.unit)

    def body():
        return {**record_data(world.village.code), "title": "", "action": "submit",
                "files": [(io.BytesIO(png_bytes()), "现场.png")]}

    refused = session.post("/records/new", data=body(), content_type="multipart/form-data")
    assert refused.status_code in (400, 422) and "现场.png" in refused.get_data(as_text=True)
    kept = _objects(s3_bucket, "pending/")
    assert len(kept) == 2 and _local_files(app) == []
    token = next(k for k in kept if k.endswith(".bin")).rsplit("/", 1)[1][:-4]
    saved = session.post("/records/new", data={**record_data(world.village.code), "action": "submit",
                                               "pending": token}, content_type="multipart/form-data")
    assert saved.status_code == 302 and db.session.scalar(select(func.count()).select_from(Evidence)) == 1
    assert _objects(s3_bucket, "pending/") == {}
    session.post("/records/new", data=body(), content_type="multipart/form-data")
    import time

    assert pending.expire(time.time() + 2 * 86400) == 1 and _objects(s3_bucket, "pending/") == {}


def test_jobs_keep_their_files_in_the_bucket(app, db, make_user, login_as, s3_bucket, monkeypatch):
    """An export job queued by the page is written by the worker into the bucket and
    downloaded from it; its progress too; expiry removes them there."""
    from datetime import timedelta

    from registry.core.timeutil import utcnow

    monkeypatch.setitem(app.config, "REGISTRY_EXPORT_JOB_ROWS", 3)
    org = make_org("backing_unit", COUNTY, name="本县单位")
    for i in range(5):
        make_person(org, name=f"本县{i:02d}")
    county = login_as(make_user("region", region_code=COUNTY))
    job_url = county.get("/people/export.csv?posted=&purpose=核对名单").headers["Location"]
    assert jobs.work(once=True) == 1
    job = db.session.scalar(select(TransferJob))
    assert set(_objects(s3_bucket, "jobs/")) == {f"jobs/{job.id}.progress", f"jobs/{job.output}"}
    download = county.get(job_url + "/download")
    assert download.status_code == 200 and "本县04" in download.get_data(as_text=True)
    assert "attachment" in download.headers["Content-Disposition"] and _local_files(app) == []

    old = utcnow() - timedelta(days=app.config["REGISTRY_JOB_KEEP_DAYS"] + 1)
    db.session.execute(TransferJob.__table__.update().where(TransferJob.id == job.id).values(finished_at=old))
    db.session.commit()
    left = Path(app.instance_path) / "tmp" / "left-by-a-dead-worker.csv.part"  # its local scratch file
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_bytes(b"x")
    os.utime(left, (old.timestamp(), old.timestamp()))
    assert jobs.expire_files() == 1 and _objects(s3_bucket, "jobs/") == {} and not left.exists()
    assert county.get(job_url + "/download").status_code == 404


def test_an_import_error_sheet_waits_in_the_bucket(app, db, make_user, login_as, s3_bucket):
    from tests.sheets import xlsx_bytes

    county = login_as(make_user("region", region_code=COUNTY))
    sheet = xlsx_bytes([["姓名", "身份证号"], ["某人", "不是身份证号"]])
    response = county.post("/import/people", data={"file": (io.BytesIO(sheet), "干部.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    reports = _objects(s3_bucket, "import-reports/")
    assert len(reports) == 1
    user_id, rest = next(iter(reports)).split("/", 1)[1].split("-", 1)
    download = county.get(f"/import/errors/{rest}")
    assert download.status_code == 200 and download.data == next(iter(reports.values()))
    assert user_id == str(county.user.id)

