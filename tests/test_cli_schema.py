"""A command run against a database without the registry's tables (a new DATABASE_URL,
migrations not yet run) says what to run, in one line, instead of a traceback."""
from __future__ import annotations

from registry import create_app


def test_a_command_on_an_empty_database_says_to_migrate(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite3'}", "SECRET_KEY": "x",
                      "DATA_KEY": "x", "UPLOAD_FOLDER": str(tmp_path / "uploads"),
                      "AUDIT_CHECKPOINT_PATH": str(tmp_path / "checkpoint.json")})
    sheet = tmp_path / "people.csv"
    sheet.write_text("姓名,身份证号,工作单位\n", encoding="utf-8")
    runner = app.test_cli_runner()
    with app.app_context():  # as the flask command gives one
        for args in (["import", "people", str(sheet), "--as", "someone"], ["audit", "verify"]):
            result = runner.invoke(args=args)
            assert result.exit_code == 1, (args, result.output, result.exception)
            assert "数据库尚未建立或不是本版本的结构" in result.output and "flask db upgrade" in result.output, result.output
            assert "Traceback" not in result.output
