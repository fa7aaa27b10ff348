"""A web worker loads no heavy library it does not use (worker peak memory, issue 16):
plotly (figures are written as plain JSON), openpyxl, XlsxWriter and python-calamine (with an
export or upload), Alembic (with a migration), redis and boto3 (where configured)."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("plotly", "openpyxl", "xlsxwriter", "python_calamine", "alembic", "flask_migrate", "redis", "boto3")

SCRIPT = """
import json, sys
from registry import create_app
from registry.dashboard import charts
from registry.dashboard.tables import Table

app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "DATA_KEY": "x"})
table = Table("training", "", ["地区", "在岗", "已培训", "%"], [["长沙市", 1, 1, 100.0], ["合计", 1, 1, 100.0]])
charts.to_json(charts.plain_numbers(charts.training_chart(table)))
with app.test_client() as client:
    assert client.get("/assets/plotly.min.js").status_code == 200
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_the_app_and_its_charts_load_no_heavy_library():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_flask_db_still_runs_the_migrations(app, runner):
    result = runner.invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
