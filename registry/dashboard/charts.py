"""Plotly figures built from the tables (the JSON goes into the page as data; the
browser draws it with the locally served plotly.min.js).

A figure is the plain JSON plotly.js reads, ``{"data": [traces], "layout": {...}}``, written
here directly rather than through plotly's Python figure classes: those load a validator
for every attribute of every trace type (about 15 MB a worker) to produce the same JSON.
The layout carries plotly's default template (``plotly_template.json``, as plotly's Python
package writes it into every figure), and a named colour scale is written out as plotly
does, since plotly.js knows fewer names.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from .tables import Table

Figure = dict  # {"data": [trace, ...], "layout": {...}}

_LAYOUT = dict(
    font=dict(family="WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, sans-serif", size=12),
    margin=dict(l=50, r=20, t=40, b=80),
    legend=dict(orientation="h", y=-0.25),
    height=380,
)

# ColorBrewer's RdYlGn as plotly writes it (plotly.colors.diverging.RdYlGn, evenly spread)
RD_YL_GN = [[0.0, "rgb(165,0,38)"], [0.1, "rgb(215,48,39)"], [0.2, "rgb(244,109,67)"], [0.3, "rgb(253,174,97)"],
            [0.4, "rgb(254,224,139)"], [0.5, "rgb(255,255,191)"], [0.6, "rgb(217,239,139)"],
            [0.7, "rgb(166,217,106)"], [0.8, "rgb(102,189,99)"], [0.9, "rgb(26,152,80)"], [1.0, "rgb(0,104,55)"]]


# Numbers on every axis as a Chinese reader writes them: 1,234.5, never 1.2k or 50M
# (Plotly's default SI suffixes); money in 万元, said in the axis title.
NUMBER_FORMAT = ",~f"
WAN = 10000


@cache
def _template() -> dict:
    return json.loads(Path(__file__).with_name("plotly_template.json").read_text(encoding="utf-8"))


def _title(value):
    return {"text": value} if isinstance(value, str) else value


def figure(traces: list[dict], **layout) -> Figure:
    """A figure of ``traces`` (each with its ``type``) and ``layout`` (a string title is
    written ``{"text": ...}``, as plotly does)."""
    if "title" in layout:
        layout["title"] = _title(layout["title"])
    return {"data": traces, "layout": {"template": _template(), **layout}}


def plain_numbers(fig: Figure) -> Figure:
    """Thousands commas and a decimal point, no SI suffix or exponent, on every axis."""
    layout = fig["layout"]
    layout["separators"] = ".,"
    layout["xaxis"] = {**layout.get("xaxis", {}), "exponentformat": "none", "separatethousands": True}
    layout["yaxis"] = {**layout.get("yaxis", {}), "exponentformat": "none", "separatethousands": True,
                       "tickformat": NUMBER_FORMAT}
    return fig


def _col(table: Table, name: str) -> list:
    i = table.header.index(name)
    return [r[i] for r in table.rows]


def _bar(**trace) -> dict:
    return {**trace, "type": "bar"}


def coverage_chart(table: Table) -> Figure:
    rows = table.rows[:-1]  # children only, not the total line
    names = [r[1] for r in rows]
    traces = []
    for column, label in (("有第一书记（%）", "第一书记"), ("有后盾单位（%）", "后盾单位"),
                          ("有企业结对（%）", "企业结对"), ("近12个月有已确认帮扶（%）", "近12个月已确认帮扶")):
        i = table.header.index(column)
        traces.append(_bar(name=label, x=names, y=[r[i] for r in rows]))
    return figure(traces, title="覆盖率（%）", barmode="group", yaxis=dict(range=[0, 100], ticksuffix="%"), **_LAYOUT)


def amounts_chart(table: Table) -> Figure:
    """The table counts in 元; the chart in 万元 (a month's sum is often millions of 元)."""
    months = [r[0] for r in table.rows]
    traces = [_bar(name=category, x=months, y=[round(r[i] / WAN, 4) for r in table.rows],
                   hovertemplate="%{x} · %{fullData.name}<br>%{y:,.2f} 万元<extra></extra>")
              for i, category in enumerate(table.header[1:-1], start=1)]
    return figure(traces, title="已确认帮扶金额（万元）", barmode="stack", yaxis=dict(title=dict(text="金额（万元）")),
                  **_LAYOUT)


def funnel_chart(table: Table) -> Figure:
    stages = table.rows[:3]
    trace = {"type": "funnel", "y": [r[0] for r in stages], "x": [r[1] for r in stages],
             "texttemplate": "%{value:,d} 条<br>%{percentInitial:.1%}",
             "hovertemplate": "%{y}：%{value:,d} 条<extra></extra>"}
    return figure([trace], title="确认漏斗（条）", **_LAYOUT)


def training_chart(table: Table) -> Figure:
    rows = table.rows[:-1]
    traces = [_bar(name="在岗选派干部", x=[r[0] for r in rows], y=[r[1] for r in rows]),
              _bar(name="已完成年度培训", x=[r[0] for r in rows], y=[r[2] for r in rows])]
    return figure(traces, title="培训覆盖（人）", barmode="group", **_LAYOUT)


def hierarchy_chart(table: Table, root: str) -> Figure:
    labels = [root] + [r[1] for r in table.rows]
    parents = [""] + [root] * len(table.rows)
    values = [sum(r[2] for r in table.rows)] + [r[2] for r in table.rows]
    colors = [None] + [r[3] if r[3] is not None else 0 for r in table.rows]
    trace = {
        "type": "treemap", "labels": labels, "parents": parents, "values": values, "branchvalues": "total",
        "marker": dict(colors=[0] + colors[1:], colorscale=RD_YL_GN, cmin=0, cmax=100, showscale=True,
                       colorbar=dict(title=_title("第一书记%"))),
        "hovertemplate": "%{label}<br>村数 %{value:,d}<extra></extra>",
    }
    return figure([trace], title="村数（面积）与第一书记覆盖（颜色）", **{**_LAYOUT, "margin": dict(l=10, r=10, t=40, b=10)})


# The base topology Plotly loads before it draws any geo figure, even one with every base layer
# hidden; static/geo/ serves an empty one of this name (the registry ships no boundaries) and
# static/js/charts.js points Plotly there instead of its CDN.
MAP_TOPOLOGY = dict(scope="world", resolution=110)  # → static/geo/world_110m.json


def choropleth(geojson: dict, codes: list[str], values: list, title: str) -> Figure:
    """The deployment's own boundaries (GeoJSON keyed by division code), coloured by
    ``values``, with no base map: nothing but the site's own files is needed to draw it."""
    trace = {"type": "choropleth", "geojson": geojson, "featureidkey": "properties.code", "locations": list(codes),
             "z": list(values), "colorscale": RD_YL_GN, "zmin": 0, "zmax": 100, "colorbar": dict(title=_title("%"))}
    return figure([trace], geo=dict(fitbounds="locations", visible=False, **MAP_TOPOLOGY), title=title,
                  **{**_LAYOUT, "height": 480})


def figures(tables: dict[str, Table], root: str) -> dict[str, str]:
    """{chart name: Plotly figure JSON}."""
    built = {
        "coverage": coverage_chart(tables["coverage"]),
        "amounts": amounts_chart(tables["amounts"]),
        "funnel": funnel_chart(tables["funnel"]),
        "training": training_chart(tables["training"]),
        "hierarchy": hierarchy_chart(tables["hierarchy"], root),
    }
    return {name: to_json(plain_numbers(fig)) for name, fig in built.items()}


def _plain(value):
    """What ``json`` cannot write, as plotly's encoder writes it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def to_json(fig: Figure) -> str:
    """A figure as the JSON plotly.js draws."""
    return json.dumps(fig, default=_plain)
