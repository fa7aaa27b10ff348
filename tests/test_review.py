"""The shared review cycle (registry/core/review.py): its table of moves and the
version check, without a database (the duty and results tests run it end to end)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from registry.core.review import ReviewCycle, check_version
from registry.core.rules import RuleViolation

CYCLE = ReviewCycle(checked="checked", action="check", verb="核实", noun="纪实", title="驻村纪实",
                    stale="过期", locked="已锁定", refiled="重新填报：", describe=str)


def _item(status, version=3):
    return SimpleNamespace(status=status, version=version, status_label=status)


def test_moves_filed_to_checked_or_returned_returned_to_filed_checked_is_final():
    assert CYCLE.moves == {
        "filed": frozenset({"filed", "checked", "returned"}),
        "returned": frozenset({"filed"}),
        "checked": frozenset(),
    }
    assert CYCLE.is_locked(_item("checked"))
    assert not CYCLE.is_locked(_item("filed")) and not CYCLE.is_locked(_item("returned"))


def test_a_checked_item_cannot_be_edited_and_a_stale_version_is_refused():
    with pytest.raises(RuleViolation) as refused:
        CYCLE.open_for_edit(_item("checked"), 3)
    assert refused.value.message == "已锁定"
    with pytest.raises(RuleViolation) as refused:
        CYCLE.open_for_edit(_item("returned"), "2")
    assert refused.value.message == "过期"
    CYCLE.open_for_edit(_item("returned"), "3")


@pytest.mark.parametrize("status, accept, message", [
    ("checked", True, "只有待核实的纪实可以核实（当前：checked）"),
    ("returned", False, "只有待核实的纪实可以退回（当前：returned）"),
])
def test_only_a_filed_item_is_decided(status, accept, message):
    with pytest.raises(RuleViolation) as refused:
        CYCLE.decide(_item(status), accept, "理由", user=None)
    assert refused.value.message == message


def test_a_return_needs_a_short_reason():
    with pytest.raises(RuleViolation) as refused:
        CYCLE.decide(_item("filed"), False, "  ", user=None)
    assert refused.value.errors == {"reason": ["退回时须填写退回原因"]}
    with pytest.raises(RuleViolation) as refused:
        CYCLE.decide(_item("filed"), False, "长" * 501, user=None)
    assert refused.value.errors == {"reason": ["退回原因最多500字"]}


@pytest.mark.parametrize("seen, ok", [(None, True), ("", True), (3, True), ("3", True), ("2", False), ("x", False)])
def test_check_version(seen, ok):
    if ok:
        check_version(_item("filed"), seen, "过期")
    else:
        with pytest.raises(RuleViolation):
            check_version(_item("filed"), seen, "过期")
