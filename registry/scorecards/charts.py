"""The ranking of a scheme's scorecards as a Plotly bar chart (drawn by the locally served
plotly.min.js through static/js/charts.js, like the coverage page's charts)."""
from __future__ import annotations

from ..dashboard.charts import _LAYOUT, figure, plain_numbers, to_json


def ranking_figure(scheme, ranked) -> str:
    """{Plotly figure} as JSON: the totals from the highest, published ones in green."""
    names = [f"{rank}. {card.region.name}" for rank, card in ranked]
    totals = [float(card.total) for _, card in ranked]
    colours = ["#2e7d32" if card.state == "published" else "#90a4ae" for _, card in ranked]
    bar = {"type": "bar", "x": names, "y": totals, "marker": {"color": colours}, "text": [f"{t:g}" for t in totals],
           "textposition": "outside", "hovertemplate": "%{x}<br>%{y:.2f} 分<extra></extra>"}
    fig = figure([bar], title=f"{scheme.name}：总分排名（绿色为已发布）",
                 yaxis=dict(range=[0, 105], title=dict(text="总分")), **_LAYOUT)
    # the page embeds it in a <script type="application/json">: no "</script>" may end it early
    return to_json(plain_numbers(fig)).replace("<", "\\u003c")
