"""The read-only settings page: every policy setting with its value and meaning."""
from __future__ import annotations

from registry.config import SETTING_DEFAULTS, load_config
from tests.factories import COUNTY


def test_admins_see_every_setting_with_its_value_and_meaning(login_as, make_user):
    body = login_as(make_user("admin")).get("/admin/settings").get_data(as_text=True)
    for name in SETTING_DEFAULTS:
        assert name in body
    assert "（暂无说明）" not in body
    assert "每月在村天数下限" in body and "<b>20</b>" in body
    assert "缺勤1天及以上 → 最高“称职”" in body
    assert "环境变量" in body and "重启" in body


def test_a_changed_setting_is_marked(login_as, make_user, app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_MIN_DAYS_IN_VILLAGE", 22)
    body = login_as(make_user("admin")).get("/admin/settings").get_data(as_text=True)
    assert "<b>22</b> <span class=\"tag\">已调整</span>" in body


def test_only_admins_see_the_settings_page(login_as, make_user):
    for user in (make_user("region", region_code=COUNTY), make_user("viewer", region_code=COUNTY)):
        assert login_as(user).get("/admin/settings").status_code == 403


def test_a_deployment_changes_a_setting_through_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REGISTRY_MIN_DAYS_IN_VILLAGE", "22")
    monkeypatch.setenv("REGISTRY_ABSENCE_GRADE_CAP", "2:称职,4:不称职")
    monkeypatch.setenv("REGISTRY_PERSON_GRADES", "优秀,合格,不合格")
    config = load_config(str(tmp_path), {"SECRET_KEY": "x", "DATA_KEY": "y"})
    assert config["REGISTRY_MIN_DAYS_IN_VILLAGE"] == 22
    assert config["REGISTRY_ABSENCE_GRADE_CAP"] == ((2, "称职"), (4, "不称职"))
    assert config["REGISTRY_PERSON_GRADES"] == ("优秀", "合格", "不合格")
