"""Plotly figures built from the tables (the JSON goes into the page as data; the
browser draws it with the locally served plotly.min.js)."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .tables import Table

if TYPE_CHECKING:
    import plotly.graph_objects as go

# plotly (its figure classes and validators, about 15 MB) is imported by the functions that
# build a figure, not with the app: a worker that never draws a chart never loads it.

_LAYOUT = dict(
    font=dict(family="WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, sans-serif", size=12),
    margin=dict(l=50, r=20, t=40, b=80),
    legend=dict(orientation="h", y=-0.25),
    height=380,
)


# Numbers on every axis as a Chinese reader writes them: 1,234.5, never 1.2k or 50M
# (Plotly's default SI suffixes); money in 万元, said in the axis title.
NUMBER_FORMAT = ",~f"
WAN = 10000


def plain_numbers(fig: go.Figure) -> go.Figure:
    """Thousands commas and a decimal point, no SI suffix or exponent, on every axis."""
    fig.update_layout(separators=".,")
    fig.update_xaxes(exponentformat="none", separatethousands=True)
    fig.update_yaxes(exponentformat="none", separatethousands=True, tickformat=NUMBER_FORMAT)
    return fig


def _col(table: Table, name: str) -> list:
    i = table.header.index(name)
    return [r[i] for r in table.rows]


def coverage_chart(table: Table) -> go.Figure:
    import plotly.graph_objects as go

    rows = table.rows[:-1]  # children only, not the total line
    names = [r[1] for r in rows]
    fig = go.Figure()
    for column, label in (("有第一书记（%）", "第一书记"), ("有后盾单位（%）", "后盾单位"),
                          ("有企业结对（%）", "企业结对"), ("近12个月有已确认帮扶（%）", "近12个月已确认帮扶")):
        i = table.header.index(column)
        fig.add_bar(name=label, x=names, y=[r[i] for r in rows])
    fig.update_layout(title="覆盖率（%）", barmode="group", yaxis=dict(range=[0, 100], ticksuffix="%"), **_LAYOUT)
    return fig


def amounts_chart(table: Table) -> go.Figure:
    """The table counts in 元; the chart in 万元 (a month's sum is often millions of 元)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    months = [r[0] for r in table.rows]
    for i, category in enumerate(table.header[1:-1], start=1):
        fig.add_bar(name=category, x=months, y=[round(r[i] / WAN, 4) for r in table.rows],
                    hovertemplate="%{x} · %{fullData.name}<br>%{y:,.2f} 万元<extra></extra>")
    fig.update_layout(title="已确认帮扶金额（万元）", barmode="stack", yaxis=dict(title=dict(text="金额（万元）")),
                      **_LAYOUT)
    return fig


def funnel_chart(table: Table) -> go.Figure:
    import plotly.graph_objects as go

    stages = table.rows[:3]
    fig = go.Figure(go.Funnel(y=[r[0] for r in stages], x=[r[1] for r in stages], texttemplate="%{value:,d} 条<br>%{percentInitial:.1%}",
                           hovertemplate="%{y}：%{value:,d} 条<extra></extra>"))
    fig.update_layout(title="确认漏斗（条）", **_LAYOUT)
    return fig


def training_chart(table: Table) -> go.Figure:
    import plotly.graph_objects as go

    rows = table.rows[:-1]
    fig = go.Figure()
    fig.add_bar(name="在岗选派干部", x=[r[0] for r in rows], y=[r[1] for r in rows])
    fig.add_bar(name="已完成年度培训", x=[r[0] for r in rows], y=[r[2] for r in rows])
    fig.update_layout(title="培训覆盖（人）", barmode="group", **_LAYOUT)
    return fig


def hierarchy_chart(table: Table, root: str) -> go.Figure:
    import plotly.graph_objects as go

    labels = [root] + [r[1] for r in table.rows]
    parents = [""] + [root] * len(table.rows)
    values = [sum(r[2] for r in table.rows)] + [r[2] for r in table.rows]
    colors = [None] + [r[3] if r[3] is not None else 0 for r in table.rows]
    fig = go.Figure(go.Treemap(
        labels=labels, parents=parents, values=values, branchvalues="total",
        marker=dict(colors=[0] + colors[1:], colorscale="RdYlGn", cmin=0, cmax=100, showscale=True,
                    colorbar=dict(title="第一书记%")),
        hovertemplate="%{label}<br>村数 %{value:,d}<extra></extra>",
    ))
    fig.update_layout(title="村数（面积）与第一书记覆盖（颜色）", **{**_LAYOUT, "margin": dict(l=10, r=10, t=40, b=10)})
    return fig


# The base topology Plotly loads before it draws any geo figure, even one with every base layer
# hidden; static/geo/ serves an empty one of this name (the registry ships no boundaries) and
# static/js/charts.js points Plotly there instead of its CDN.
MAP_TOPOLOGY = dict(scope="world", resolution=110)  # → static/geo/world_110m.json


def choropleth(geojson: dict, codes: list[str], values: list, title: str) -> go.Figure:
    """The deployment's own boundaries (GeoJSON keyed by division code), coloured by
    ``values``, with no base map: nothing but the site's own files is needed to draw it."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Choropleth(
        geojson=geojson, featureidkey="properties.code", locations=codes, z=values,
        colorscale="RdYlGn", zmin=0, zmax=100, colorbar=dict(title="%"),
    ))
    fig.update_geos(fitbounds="locations", visible=False, **MAP_TOPOLOGY)
    fig.update_layout(title=title, **{**_LAYOUT, "height": 480})
    return fig


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


def to_json(fig: go.Figure) -> str:
    """A figure as the JSON plotly.js draws."""
    from plotly.utils import PlotlyJSONEncoder

    return json.dumps(fig.to_plotly_json(), cls=PlotlyJSONEncoder)
