"""实绩考核: the moves of a scheme and a scorecard. Every move checks who may make it,
writes its audit event in the same transaction and commits; a broken rule raises
``RuleViolation`` and nothing is written.

Who does what: region staff of the assessing region (the province) define a scheme, score
its scorecards (an entered indicator with a named scorer: that user only), submit them;
another of them reviews (approves or returns: never the one who submitted it nor one who
scored a line of it); an approved scorecard is published by any of them, and only then do
the assessed region's staff see it."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from ..accounts.models import User
from ..audit.services import record as audit, snapshot
from ..core.parsing import check_text, clean_text
from ..core.review import check_version
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import scoped
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from ..records import evidence as files
from ..regions.models import Region, code_range
from .models import BETTER, RULES, SOURCES, TARGET_LEVELS, Indicator, Scheme, ScoreFile, ScoreLine, Scorecard
from .providers import PROVIDERS
from .rules import FULL, check_weights, parse_decimal, parse_steps, score_of, shown, steps_json

STALE = "该考核内容已被他人修改，请刷新页面后重试"
MAX_FILES = 10
NAME_MAX, NOTE_MAX = 100, 2000


# -- who -----------------------------------------------------------------------------------------

def _contains(region: Region | None, code: str) -> bool:
    if region is None:
        return False
    lo, hi = code_range(region.code, region.level)
    return lo <= code <= hi


def may_define(user) -> bool:
    """Province staff define schemes (the province's rural-work leading group)."""
    return getattr(user, "role", None) == "region" and user.region is not None and user.region.level == "province"


def may_act(user, scheme: Scheme) -> bool:
    """Staff of the assessing region (or above it) work on the scheme and its scorecards."""
    return getattr(user, "role", None) == "region" and _contains(user.region, scheme.region_code)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise RuleViolation(message, "")


def _require_act(user, scheme: Scheme) -> None:
    _require(may_act(user, scheme), "只有考核单位（省）的工作人员可以办理")


def may_enter(user, indicator: Indicator) -> bool:
    return may_act(user, indicator.scheme) and (indicator.scorer_id is None or indicator.scorer_id == user.id)


def may_review(user, card: Scorecard) -> bool:
    """A second user: not the one who submitted it, nor one who scored any of its lines."""
    if not may_act(user, card.scheme):
        return False
    scorers = {line.scored_by_id for line in card.lines}
    return user.id != card.submitted_by_id and user.id not in scorers


# -- schemes ---------------------------------------------------------------------------------------

def schemes_for(user):
    return scoped(select(Scheme), Scheme, user).order_by(Scheme.year.desc(), Scheme.id.desc())


def create_scheme(user, data: dict) -> Scheme:
    _require(may_define(user), "只有省级工作人员可以制定考核方案")
    errors = Collector()
    name = clean_text(data.get("name"))
    if not name:
        errors.add("name", "请填写方案名称")
    elif len(name) > 200:
        errors.add("name", "方案名称最多200字")
    check_text(name, "name", "方案名称", errors)
    year = parse_decimal(data.get("year"), "year", "考核年度", errors, minimum=Decimal(2021),
                         maximum=Decimal(local_today().year + 1), places=0)
    level = data.get("target_level") or ""
    if level not in TARGET_LEVELS:
        errors.add("target_level", "请选择考核对象（市州或县市区）")
    note = clean_text(data.get("note")) or None
    if note and len(note) > NOTE_MAX:
        errors.add("note", f"说明最多{NOTE_MAX}字")
    check_text(note, "note", "说明", errors, multiline=True)
    errors.raise_if_any()
    year = int(year)
    taken = db.session.scalar(select(Scheme.id).where(Scheme.region_code == user.region_code, Scheme.year == year,
                                                      Scheme.target_level == level))
    if taken:
        raise RuleViolation(f"{year}年度已有{TARGET_LEVELS[level]}考核方案", "year")
    scheme = Scheme(region_code=user.region_code, year=year, target_level=level, name=name, note=note,
                    state="draft", created_by_id=user.id)
    db.session.add(scheme)
    flush_or_refuse(STALE, duplicate=("year", f"{year}年度已有{TARGET_LEVELS[level]}考核方案"))
    audit("create", scheme, summary=f"制定考核方案：{scheme.name}", actor=user)
    db.session.commit()
    return scheme


def _scorer(raw, scheme: Scheme, errors: Collector) -> int | None:
    if raw in (None, ""):
        return None
    try:
        ident = int(raw)
    except (TypeError, ValueError):
        errors.add("scorer_id", "评分人无效")
        return None
    user = db.session.get(User, ident) if 0 < ident < 2**31 else None
    if user is None or not user.active or not may_act(user, scheme):
        errors.add("scorer_id", "评分人须为考核单位的在岗工作人员")
        return None
    return user.id


def scorer_choices(scheme: Scheme) -> list[tuple[str, str]]:
    """The staff of the assessing region, who may be named scorer of an entered indicator."""
    users = db.session.scalars(select(User).where(User.role == "region", User.region_code == scheme.region_code,
                                                  User.active.is_(True)).order_by(User.username))
    return [(str(u.id), u.display_name or u.username) for u in users]


def add_indicator(user, scheme: Scheme, data: dict) -> Indicator:
    """A new indicator of a draft scheme; the weights may not exceed 100 in all."""
    _require_act(user, scheme)
    _require(scheme.state == "draft", "方案已启用，指标不能再修改")
    errors = Collector()
    name = clean_text(data.get("name"))
    if not name:
        errors.add("name", "请填写指标名称")
    elif len(name) > NAME_MAX:
        errors.add("name", f"指标名称最多{NAME_MAX}字")
    check_text(name, "name", "指标名称", errors)
    weight = parse_decimal(data.get("weight"), "weight", "权重（分值）", errors, minimum=Decimal("0.01"), maximum=FULL,
                           places=2)
    source = data.get("source") or ""
    if source not in SOURCES:
        errors.add("source", "请选择数据来源")
    provider = data.get("provider") or None
    if source == "computed" and provider not in PROVIDERS:
        errors.add("provider", "系统计算的指标须选择计算口径")
    if source == "entered":
        provider = None
    rule = data.get("rule") or ""
    if rule not in RULES:
        errors.add("rule", "请选择计分规则")
    if rule == "direct" and source == "computed":
        errors.add("rule", "系统计算的指标不能直接打分：请选择线性计分或分档计分")
    better = data.get("better") or "higher"
    if better not in BETTER:
        errors.add("better", "请选择数值方向")
    floor = target = None
    steps: list = []
    if rule == "linear":
        floor = parse_decimal(data.get("floor"), "floor", "零分线", errors)
        target = parse_decimal(data.get("target"), "target", "满分线", errors)
        if floor is not None and target is not None:
            if floor == target:
                errors.add("target", "满分线不能等于零分线")
            elif (target > floor) != (better == "higher"):
                errors.add("target", "数值越高越好时满分线应高于零分线，越低越好时应低于零分线")
    elif rule == "steps":
        steps = parse_steps(data.get("steps"), "steps", errors)
    unit = clean_text(data.get("unit"))[:20]
    if source == "computed" and provider in PROVIDERS:
        unit = PROVIDERS[provider].unit
    note = clean_text(data.get("note")) or None
    if note and len(note) > NOTE_MAX:
        errors.add("note", f"评分说明最多{NOTE_MAX}字")
    check_text(note, "note", "评分说明", errors, multiline=True)
    scorer_id = _scorer(data.get("scorer_id"), scheme, errors) if source == "entered" else None
    if weight is not None and scheme.total_weight + weight > FULL:
        errors.add("weight", f"各指标权重之和不能超过100分（已有{shown(scheme.total_weight)}分）")
    errors.raise_if_any()
    indicator = Indicator(
        scheme=scheme, position=len(scheme.indicators) + 1, name=name, weight=weight, source=source,
        provider=provider, rule=rule, better=better, floor=floor, target=target,
        steps=steps_json(steps) if rule == "steps" else None, unit=unit, scorer_id=scorer_id, note=note,
    )
    db.session.add(indicator)
    flush_or_refuse(STALE)
    audit("create", indicator, summary=f"方案“{scheme.name}”新增指标：{name}（{shown(weight)}分）", actor=user)
    db.session.commit()
    return indicator


def remove_indicator(user, scheme: Scheme, indicator: Indicator) -> None:
    _require_act(user, scheme)
    _require(indicator.scheme_id == scheme.id, "该指标不属于这个方案")
    _require(scheme.state == "draft", "方案已启用，指标不能再修改")
    audit("delete", indicator, before=snapshot(indicator), after=False,
          summary=f"方案“{scheme.name}”删除指标：{indicator.name}", actor=user)
    db.session.delete(indicator)
    db.session.commit()


def activate(user, scheme: Scheme, version=None) -> Scheme:
    """Enable a draft scheme for scoring: its weights must sum to 100."""
    _require_act(user, scheme)
    _require(scheme.state == "draft", "方案已启用")
    check_version(scheme, version, STALE)
    check_weights(scheme.indicators)
    before = snapshot(scheme)
    scheme.state, scheme.activated_by_id, scheme.activated_at = "active", user.id, utcnow()
    flush_or_refuse(STALE)
    audit("activate", scheme, before=before, summary=f"启用考核方案：{scheme.name}", actor=user)
    db.session.commit()
    return scheme


# -- scorecards -------------------------------------------------------------------------------------

def assessable_regions(scheme: Scheme) -> list[Region]:
    """The cities or counties under the assessing region that have no scorecard yet."""
    lo, hi = code_range(scheme.region_code, db.session.get(Region, scheme.region_code).level)
    done = select(Scorecard.region_code).where(Scorecard.scheme_id == scheme.id)
    return list(db.session.scalars(select(Region).where(
        Region.level == scheme.target_level, Region.code.between(lo, hi), Region.code.not_in(done)).order_by(Region.code)))


def start_scorecard(user, scheme: Scheme, region_code: str | None) -> Scorecard:
    _require_act(user, scheme)
    _require(scheme.state == "active", "方案尚未启用：请先确认各指标权重之和为100分并启用方案")
    region = db.session.get(Region, region_code) if isinstance(region_code, str) and region_code.isdigit() else None
    if region is None or region.level != scheme.target_level or not _contains(scheme.region, region.code):
        raise RuleViolation(f"请选择本方案考核的{scheme.target_label}", "region_code")
    taken = db.session.scalar(select(Scorecard.id).where(Scorecard.scheme_id == scheme.id,
                                                         Scorecard.region_code == region.code))
    if taken:
        raise RuleViolation(f"{region.name}已有本方案的考核结果", "region_code")
    card = Scorecard(scheme_id=scheme.id, region_code=region.code, state="scoring", created_by_id=user.id)
    db.session.add(card)
    flush_or_refuse(STALE, duplicate=("region_code", f"{region.name}已有本方案的考核结果"))
    audit("create", card, summary=f"开始评分：{scheme.name} · {region.name}", actor=user)
    db.session.commit()
    return card


def _editable(user, card: Scorecard, indicator: Indicator) -> None:
    _require_act(user, card.scheme)
    _require(indicator.scheme_id == card.scheme_id, "该指标不属于这个考核方案")
    _require(card.editable, f"考核结果{card.state_label}，不能再评分")


def _line(card: Scorecard, indicator: Indicator) -> tuple[ScoreLine, dict | None]:
    line = card.line_for(indicator.id)
    if line is None:
        line = ScoreLine(scorecard=card, indicator=indicator, score=Decimal(0))
        db.session.add(line)
        return line, None
    return line, snapshot(line)


def compute_line(user, card: Scorecard, indicator: Indicator, version=None) -> ScoreLine:
    """Score a computed indicator from the registry's figures as they are now; the line
    keeps them (frozen) until scored again while the scorecard is still being scored."""
    _editable(user, card, indicator)
    _require(indicator.source == "computed" and indicator.provider in PROVIDERS, "该指标不是系统计算的指标")
    check_version(card, version, STALE)
    figures = PROVIDERS[indicator.provider].compute(card.region_code, card.scheme.year)
    line, before = _line(card, indicator)
    line.value, line.numerator, line.denominator = figures.value, figures.numerator, figures.denominator
    line.basis, line.note = figures.basis, None
    line.score = score_of(indicator, figures.value)
    line.as_of, line.scored_by_id = utcnow(), user.id
    flush_or_refuse(STALE)
    said = "—" if figures.value is None else f"{shown(figures.value)}{indicator.unit}"
    audit("compute" if before is None else "recompute", line, before=before,
          summary=f"{card.region.name}“{indicator.name}”按系统数据计分：{said}，得{shown(line.score)}分", actor=user)
    db.session.commit()
    return line


def enter_line(user, card: Scorecard, indicator: Indicator, data: dict, uploads=()) -> ScoreLine:
    """Score an entered indicator: a value (or, for direct scoring, the points) with a note
    or evidence files (at least one of the two)."""
    _editable(user, card, indicator)
    _require(indicator.source == "entered", "系统计算的指标不能人工录入")
    _require(may_enter(user, indicator), "该指标由指定的评分人录入")
    check_version(card, data.get("version"), STALE)
    errors = Collector()
    if indicator.rule == "direct":
        value = parse_decimal(data.get("value"), "value", "得分", errors, minimum=Decimal(0),
                              maximum=Decimal(indicator.weight), places=2)
    else:
        value = parse_decimal(data.get("value"), "value", "指标值", errors)
    note = clean_text(data.get("note")) or None
    if note and len(note) > NOTE_MAX:
        errors.add("note", f"评分依据最多{NOTE_MAX}字")
    check_text(note, "note", "评分依据", errors, multiline=True)
    try:
        checked = files.check_uploads(uploads)
    except RuleViolation as violation:
        for message in violation.errors.get("files", []):
            errors.add("files", message)
        checked = []
    existing = card.line_for(indicator.id)
    kept = len(existing.files) if existing is not None else 0
    if kept + len(checked) > MAX_FILES:
        errors.add("files", f"每项指标最多上传{MAX_FILES}个佐证文件")
    if not note and not kept and not checked and "files" not in errors.errors:
        errors.add("note", "人工录入的指标须填写评分依据或上传佐证材料（至少一项）")
    errors.raise_if_any()
    line, before = _line(card, indicator)
    line.value, line.numerator, line.denominator, line.basis, line.note = value, None, None, None, note
    line.score = score_of(indicator, value)
    line.as_of, line.scored_by_id = utcnow(), user.id
    stored: list[str] = []
    try:
        flush_or_refuse(STALE)
        audit("enter" if before is None else "update", line, before=before,
              summary=f"{card.region.name}“{indicator.name}”录入：{shown(value)}{indicator.unit}，得{shown(line.score)}分",
              actor=user)
        known = {f.sha256 for f in line.files}
        for upload in checked:
            if upload.sha256 in known:
                continue
            known.add(upload.sha256)
            name = files.store(upload)
            stored.append(name)
            item = ScoreFile(line=line, original_name=upload.original_name, stored_name=name,
                             content_type=upload.content_type, size=upload.size, sha256=upload.sha256,
                             uploaded_by_id=user.id, uploaded_at=utcnow())
            db.session.add(item)
            db.session.flush()
            audit("evidence_add", line, after={"file_id": item.id, "original_name": item.original_name,
                                               "sha256": item.sha256, "size": item.size},
                  summary=f"上传佐证材料：{upload.original_name}", actor=user)
        db.session.commit()
    except Exception:
        db.session.rollback()
        files.discard(stored)
        raise
    return line


def _move(user, card: Scorecard, version, new_state: str, action: str, summary: str, **values) -> Scorecard:
    check_version(card, version, STALE)
    before = snapshot(card)
    card.state = new_state
    for key, value in values.items():
        setattr(card, key, value)
    flush_or_refuse(STALE)
    audit(action, card, before=before, summary=summary, actor=user)
    return card


def submit(user, card: Scorecard, version=None) -> Scorecard:
    """Every indicator scored: the total is the sum of the lines, and the card waits for review."""
    _require_act(user, card.scheme)
    _require(card.editable, f"考核结果{card.state_label}，不能提交审核")
    missing = [i.name for i in card.scheme.indicators if card.line_for(i.id) is None]
    _require(not missing, "以下指标尚未评分：" + "、".join(missing))
    total = card.running_total
    _move(user, card, version, "submitted", "submit", f"提交审核：{card.region.name}，总分{shown(total)}分",
          total=total, submitted_by_id=user.id, submitted_at=utcnow(), return_reason=None)
    db.session.commit()
    return card


def approve(user, card: Scorecard, version=None) -> Scorecard:
    _require_act(user, card.scheme)
    _require(card.state == "submitted", f"只有待审核的考核结果可以审核（当前：{card.state_label}）")
    _require(may_review(user, card), "审核须由提交人和评分人以外的另一名工作人员进行")
    _move(user, card, version, "approved", "approve", f"审核通过：{card.region.name}，总分{shown(card.total)}分",
          reviewed_by_id=user.id, reviewed_at=utcnow())
    db.session.commit()
    return card


def send_back(user, card: Scorecard, reason, version=None) -> Scorecard:
    _require_act(user, card.scheme)
    _require(card.state == "submitted", f"只有待审核的考核结果可以退回（当前：{card.state_label}）")
    _require(may_review(user, card), "审核须由提交人和评分人以外的另一名工作人员进行")
    reason = clean_text(reason)
    if not reason:
        raise RuleViolation("退回时须填写退回原因", "reason")
    if len(reason) > 500:
        raise RuleViolation("退回原因最多500字", "reason")
    errors = Collector()
    check_text(reason, "reason", "退回原因", errors, multiline=True)
    errors.raise_if_any()
    _move(user, card, version, "returned", "return", f"退回重新评分：{card.region.name}；原因：{reason}",
          return_reason=reason, reviewed_by_id=user.id, reviewed_at=utcnow(), total=None)
    db.session.commit()
    return card


def publish(user, card: Scorecard, version=None) -> Scorecard:
    """Publish an approved scorecard to the assessed region (its staff are told)."""
    from ..notifications import notify, recipients
    from ..notifications.services import link_for

    _require_act(user, card.scheme)
    _require(card.state == "approved", f"只有已审核的考核结果可以发布（当前：{card.state_label}）")
    _move(user, card, version, "published", "publish", f"发布考核结果：{card.region.name}，总分{shown(card.total)}分",
          published_by_id=user.id, published_at=utcnow())
    notify("scorecard_published", recipients.region_staff(card.region_code),
           title=f"{card.scheme.name}：{card.region.name}考核结果已发布",
           body=f"总分{shown(card.total)}分", link=link_for("scorecards.detail", card_id=card.id), actor=user)
    db.session.commit()
    return card


# -- reading ------------------------------------------------------------------------------------

def scorecards_for(user, scheme: Scheme | None = None):
    stmt = scoped(select(Scorecard), Scorecard, user)
    if scheme is not None:
        stmt = stmt.where(Scorecard.scheme_id == scheme.id)
    return stmt.order_by(Scorecard.total.desc().nulls_last(), Scorecard.region_code)


def ranking(cards: list[Scorecard]) -> list[tuple[int, Scorecard]]:
    """Rank by total (ties share a rank), those with a total only (submitted or later)."""
    scored = sorted((c for c in cards if c.total is not None), key=lambda c: (-c.total, c.region_code))
    out, rank, last = [], 0, None
    for n, card in enumerate(scored, start=1):
        if card.total != last:
            rank, last = n, card.total
        out.append((rank, card))
    return out


def published_rank(card: Scorecard) -> tuple[int, int] | None:
    """The card's rank among the published scorecards of its scheme, and how many there are."""
    totals = list(db.session.scalars(select(Scorecard.total).where(
        Scorecard.scheme_id == card.scheme_id, Scorecard.state == "published")))
    if card.state != "published" or card.total is None:
        return None
    return 1 + sum(1 for t in totals if t > card.total), len(totals)


def file_of(card: Scorecard, file_id) -> ScoreFile | None:
    for line in card.lines:
        for item in line.files:
            if str(item.id) == str(file_id):
                return item
    return None


def lines_by_indicator(card: Scorecard) -> list[tuple[Indicator, ScoreLine | None]]:
    return [(i, card.line_for(i.id)) for i in card.scheme.indicators]


def year_label(scheme: Scheme) -> str:
    return f"{scheme.year}年度"

