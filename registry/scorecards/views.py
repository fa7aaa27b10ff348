"""Pages of 实绩考核: the schemes and scorecards a user may see, a scheme (its indicators,
its scorecards ranked on a chart), a scorecard (its lines with the figures they came from,
and the steps of its review), the entry of an entered indicator, and the printed report."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit.services import events_of
from ..core.navigation import nav_entry
from ..core.permissions import require
from ..core.queries import every
from ..core.rules import RuleViolation
from ..core.scope import get_in_scope_or_404
from ..extensions import db, talisman
from ..records import evidence as files
from ..core.timeutil import to_local
from ..transfer.exporting import describe_filters, send_export
from ..transfer.references import labelled
from ..transfer.writing import Column
from . import services
from .charts import ranking_figure
from .forms import IndicatorForm, LineForm, ReturnForm, SchemeForm, ScorecardForm, VersionForm
from .models import Indicator, Scheme, Scorecard
from .providers import PROVIDERS
from .rules import shown

bp = Blueprint("scorecards", __name__, url_prefix="/scorecards")

FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _refused(violation: RuleViolation, fallback: str):
    db.session.rollback()
    flash(violation.message, "danger")
    return redirect(fallback)


def _acting_or_403(scheme: Scheme) -> None:
    if not services.may_act(current_user, scheme):
        abort(403)


# -- lists and schemes --------------------------------------------------------------------------

@bp.route("/")
@require("read_region")
def index():
    schemes = every(services.schemes_for(current_user))
    cards = every(services.scorecards_for(current_user).limit(500))
    return render_template("scorecards/index.html", schemes=schemes, cards=cards,
                           may_define=services.may_define(current_user))


RESULT_COLUMNS = (
    Column("年度", "year", "int", 8), Column("方案", "scheme", width=40), Column("被考核地区", "region", width=24),
    Column("总分", "total", "amount", 10), Column("状态", "state", width=12), Column("发布日期", "published_at", "date", 12),
)


@bp.route("/export.<fmt>")
@require("read_region")
def results_export(fmt: str):
    """考核结果 as the list shows them (every scheme's scorecards the user may see; each
    scheme's page exports its own with every indicator). A region's scores, no personal
    data: not audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    rows = ([c.scheme.year, c.scheme.name, labelled(c.region.name, c.region_code), c.total, c.state_label,
             to_local(c.published_at).date() if c.published_at else None]
            for c in every(services.scorecards_for(current_user)))
    return send_export(fmt, "考核结果", RESULT_COLUMNS, rows, filters=describe_filters([]))


@bp.route("/schemes/new", methods=["GET", "POST"])
@require("assess_regions")
def scheme_new():
    if not services.may_define(current_user):
        abort(403)
    form = SchemeForm()
    if form.validate_on_submit():
        try:
            scheme = services.create_scheme(current_user, form.data)
        except RuleViolation as violation:
            db.session.rollback()
            violation.apply_to_form(form)
        else:
            flash("考核方案已创建，请添加指标", "success")
            return redirect(url_for("scorecards.scheme", scheme_id=scheme.id))
    elif not form.is_submitted():
        from ..core.timeutil import local_today

        form.year.data = str(local_today().year)
    return render_template("scorecards/scheme_form.html", form=form), 422 if form.is_submitted() else 200


@bp.route("/schemes/<int:scheme_id>")
@require("read_region")
def scheme(scheme_id: int):
    scheme = get_in_scope_or_404(Scheme, scheme_id)
    cards = every(services.scorecards_for(current_user, scheme))
    ranked = services.ranking(cards)
    acting = services.may_act(current_user, scheme)
    return render_template(
        "scorecards/scheme.html", scheme=scheme, cards=cards, ranked=ranked, acting=acting, providers=PROVIDERS,
        figure=ranking_figure(scheme, ranked) if ranked else None,
        card_form=ScorecardForm(formdata=None, regions=services.assessable_regions(scheme) if acting else ()),
        action=VersionForm(formdata=None), history=events_of(current_user, "Scheme", scheme.id),
    )


@bp.route("/schemes/<int:scheme_id>/export.<fmt>")
@require("read_region")
def export(scheme_id: int, fmt: str):
    """The scheme's scorecards as a sheet: rank, region, state, total, and each indicator's
    value and score (the figures as frozen on the lines)."""
    scheme = get_in_scope_or_404(Scheme, scheme_id)
    if fmt not in ("xlsx", "csv"):
        abort(404)
    cards = every(services.scorecards_for(current_user, scheme))
    ranks = {card.id: rank for rank, card in services.ranking(cards)}
    columns = [Column("排名", "rank", "int", 6), Column("被考核地区", "region", width=24),
               Column("状态", "state", width=14), Column("总分", "total", "amount", 10)]
    for i in scheme.indicators:
        columns += [Column(f"{i.name}：指标值", f"value_{i.id}", width=16),
                    Column(f"{i.name}：得分", f"score_{i.id}", "amount", 10)]
    rows = []
    for card in cards:
        row = [ranks.get(card.id), labelled(card.region.name, card.region_code), card.state_label, card.total]
        for indicator in scheme.indicators:
            line = card.line_for(indicator.id)
            value = "" if line is None else ("无可计算的对象" if line.value is None else shown(line.value) + indicator.unit)
            row += [value, line.score if line is not None else None]
        rows.append(row)
    return send_export(fmt, f"{scheme.name}考核结果", columns, rows, filters=f"方案：{scheme.name}")


@bp.route("/schemes/<int:scheme_id>/indicators/new", methods=["GET", "POST"])
@require("assess_regions")
def indicator_new(scheme_id: int):
    scheme = get_in_scope_or_404(Scheme, scheme_id)
    _acting_or_403(scheme)
    form = IndicatorForm(scorers=services.scorer_choices(scheme))
    if form.validate_on_submit():
        try:
            indicator = services.add_indicator(current_user, scheme, form.data)
        except RuleViolation as violation:
            db.session.rollback()
            violation.apply_to_form(form)
        else:
            flash(f"已添加指标：{indicator.name}", "success")
            return redirect(url_for("scorecards.scheme", scheme_id=scheme.id))
    return render_template("scorecards/indicator_form.html", form=form, scheme=scheme, providers=PROVIDERS), \
        422 if form.is_submitted() else 200


@bp.route("/schemes/<int:scheme_id>/indicators/<int:indicator_id>/delete", methods=["POST"])
@require("assess_regions")
def indicator_delete(scheme_id: int, indicator_id: int):
    scheme = get_in_scope_or_404(Scheme, scheme_id)
    indicator = get_in_scope_or_404(Indicator, indicator_id)
    if indicator.scheme_id != scheme.id:
        abort(404)
    _acting_or_403(scheme)
    back = url_for("scorecards.scheme", scheme_id=scheme.id)
    if not VersionForm().validate_on_submit():
        abort(400)
    try:
        services.remove_indicator(current_user, scheme, indicator)
    except RuleViolation as violation:
        return _refused(violation, back)
    flash("指标已删除", "success")
    return redirect(back)


@bp.route("/schemes/<int:scheme_id>/activate", methods=["POST"])
@require("assess_regions")
def scheme_activate(scheme_id: int):
    scheme = get_in_scope_or_404(Scheme, scheme_id)
    _acting_or_403(scheme)
    back = url_for("scorecards.scheme", scheme_id=scheme.id)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.activate(current_user, scheme, form.version.data)
    except RuleViolation as violation:
        return _refused(violation, back)
    flash("方案已启用，可以开始评分", "success")
    return redirect(back)


@bp.route("/schemes/<int:scheme_id>/scorecards", methods=["POST"])
@require("assess_regions")
def scorecard_new(scheme_id: int):
    scheme = get_in_scope_or_404(Scheme, scheme_id)
    _acting_or_403(scheme)
    form = ScorecardForm(regions=services.assessable_regions(scheme))
    if not form.validate_on_submit():
        abort(400)
    try:
        card = services.start_scorecard(current_user, scheme, form.region_code.data)
    except RuleViolation as violation:
        return _refused(violation, url_for("scorecards.scheme", scheme_id=scheme.id))
    flash(f"已开始对{card.region.name}评分", "success")
    return redirect(url_for("scorecards.detail", card_id=card.id))


# -- a scorecard --------------------------------------------------------------------------------

def _card(card_id: int) -> Scorecard:
    return get_in_scope_or_404(Scorecard, card_id)


def _indicator_of(card: Scorecard, indicator_id: int) -> Indicator:
    indicator = get_in_scope_or_404(Indicator, indicator_id)
    if indicator.scheme_id != card.scheme_id:
        abort(404)
    return indicator


@bp.route("/<int:card_id>")
@require("read_region")
def detail(card_id: int):
    card = _card(card_id)
    acting = services.may_act(current_user, card.scheme)
    history = events_of(current_user, "Scorecard", card.id)
    for line in card.lines:
        history += events_of(current_user, "ScoreLine", line.id)
    history.sort(key=lambda e: e.id)
    return render_template(
        "scorecards/detail.html", card=card, lines=services.lines_by_indicator(card), acting=acting,
        may_review=services.may_review(current_user, card), may_enter=services.may_enter,
        action=VersionForm(formdata=None), return_form=ReturnForm(formdata=None), history=history,
        rank=services.published_rank(card), providers=PROVIDERS,
    )


@bp.route("/<int:card_id>/print")
@require("read_region")
def print_view(card_id: int):
    """The one-page report of a published scorecard (print it from the browser: 打印)."""
    card = _card(card_id)
    if card.state != "published":
        abort(404)
    return render_template("scorecards/print.html", card=card, lines=services.lines_by_indicator(card),
                           rank=services.published_rank(card), providers=PROVIDERS)


@bp.route("/<int:card_id>/compute/<int:indicator_id>", methods=["POST"])
@require("assess_regions")
def compute(card_id: int, indicator_id: int):
    card = _card(card_id)
    indicator = _indicator_of(card, indicator_id)
    _acting_or_403(card.scheme)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    back = url_for("scorecards.detail", card_id=card.id)
    try:
        line = services.compute_line(current_user, card, indicator, form.version.data)
    except RuleViolation as violation:
        return _refused(violation, back)
    flash(f"“{indicator.name}”已按系统数据计分：{shown(line.score)}分", "success")
    return redirect(back)


@bp.route("/<int:card_id>/enter/<int:indicator_id>", methods=["GET", "POST"])
@require("assess_regions")
def enter(card_id: int, indicator_id: int):
    card = _card(card_id)
    indicator = _indicator_of(card, indicator_id)
    _acting_or_403(card.scheme)
    line = card.line_for(indicator.id)
    form = LineForm()
    if form.validate_on_submit():
        try:
            services.enter_line(current_user, card, indicator, form.data, request.files.getlist("files"))
        except RuleViolation as violation:
            db.session.rollback()
            violation.apply_to_form(form)
        else:
            flash(f"“{indicator.name}”已评分", "success")
            return redirect(url_for("scorecards.detail", card_id=card.id))
    elif not form.is_submitted():
        form.version.data = card.version
        if line is not None:
            form.value.data = f"{shown(line.value)}" if line.value is not None else ""
            form.note.data = line.note
    if indicator.rule == "direct":
        form.value.label.text = f"得分（0—{shown(indicator.weight)}分）"
    elif indicator.unit:
        form.value.label.text = f"指标值（{indicator.unit}）"
    return render_template("scorecards/enter.html", form=form, card=card, indicator=indicator, line=line,
                           may_enter=services.may_enter(current_user, indicator)), 422 if form.is_submitted() else 200


@bp.route("/<int:card_id>/files/<int:score_file_id>")
@talisman(content_security_policy=FILE_CSP)
@require("read_region")
def score_file(card_id: int, score_file_id: int):
    card = _card(card_id)
    item = services.file_of(card, score_file_id)
    if item is None:
        abort(404)
    return files.serve_item(item)


def _step(card_id: int, move, done: str):
    card = _card(card_id)
    _acting_or_403(card.scheme)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    back = url_for("scorecards.detail", card_id=card.id)
    try:
        move(current_user, card, form.version.data)
    except RuleViolation as violation:
        return _refused(violation, back)
    flash(done, "success")
    return redirect(back)


@bp.route("/<int:card_id>/submit", methods=["POST"])
@require("assess_regions")
def submit(card_id: int):
    return _step(card_id, services.submit, "已提交审核，请另一名工作人员审核")


@bp.route("/<int:card_id>/approve", methods=["POST"])
@require("assess_regions")
def approve(card_id: int):
    return _step(card_id, services.approve, "审核通过，可以发布")


@bp.route("/<int:card_id>/publish", methods=["POST"])
@require("assess_regions")
def publish(card_id: int):
    return _step(card_id, services.publish, "考核结果已发布，被考核地区可以查看")


@bp.route("/<int:card_id>/return", methods=["POST"])
@require("assess_regions")
def send_back(card_id: int):
    card = _card(card_id)
    _acting_or_403(card.scheme)
    form = ReturnForm()
    if not form.validate_on_submit():
        abort(400)
    back = url_for("scorecards.detail", card_id=card.id)
    try:
        services.send_back(current_user, card, form.reason.data, form.version.data)
    except RuleViolation as violation:
        return _refused(violation, back)
    flash("已退回重新评分", "success")
    return redirect(back)


# -- navigation: the province works on schemes; a city or county reads its results ---------------

def _level(user) -> str | None:
    return user.region.level if getattr(user, "region", None) is not None else None


nav_entry(57, "实绩考核", "scorecards.index", ("admin", "region", "viewer"),
          url_fn=lambda user: url_for("scorecards.index") if user.role == "admin" or _level(user) == "province"
          else None, group="oversight")
nav_entry(57, "考核结果", "scorecards.index", ("region", "viewer"),
          url_fn=lambda user: url_for("scorecards.index") if _level(user) in ("city", "county") else None, group="oversight")
