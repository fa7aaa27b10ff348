"""The shared field parser (registry/core/parsing.py): what it accepts, and the Chinese
message naming the field when it refuses."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from registry.core.parsing import DateBounds, clean_text, halfwidth, parse_amount, parse_count, parse_date
from registry.core.rules import Collector
from registry.core.timeutil import local_today


def _amount(value, **kw):
    errors = Collector()
    return parse_amount(value, "amount", "直接投入资金", errors, **kw), errors.errors


def _count(value, **kw):
    errors = Collector()
    return parse_count(value, "persons", "受益人数", errors, **kw), errors.errors


def test_halfwidth_turns_fullwidth_digits_letters_and_signs_into_ascii_and_trims():
    assert halfwidth("　１２３ＡＢｃ－．，　") == "123ABc-.,"
    assert halfwidth(None) == ""
    assert halfwidth(42) == "42"


def test_clean_text_trims_but_keeps_chinese_punctuation():
    assert clean_text("  帮扶，资金。 ") == "帮扶，资金。"
    assert clean_text(None) == ""


@pytest.mark.parametrize("raw, expected", [
    ("12500.50", Decimal("12500.50")),
    ("１２５００．５", Decimal("12500.50")),  # full-width digits and point
    ("12,500", Decimal("12500.00")),
    ("１２，５００元", Decimal("12500.00")),  # full-width comma and a trailing 元
    (" 3 000 ", Decimal("3000.00")),
    ("", Decimal("0.00")),  # blank is nothing given
    (None, Decimal("0.00")),
    (Decimal("7.1"), Decimal("7.10")),
    # spreadsheets: amounts in 万元 and numeric cells
    ("5万", Decimal("50000.00")),
    ("１.５万元", Decimal("15000.00")),
    (12500.5, Decimal("12500.50")),
    (300, Decimal("300.00")),
    # one way to write money (issue 15): 元 or 万元, as typed in a form
    ("5万元", Decimal("50000.00")),
    ("50,000元", Decimal("50000.00")),
    ("5.2万", Decimal("52000.00")),
    ("５万 元", Decimal("50000.00")),
    ("¥50000", Decimal("50000.00")),
    ("￥５０，０００", Decimal("50000.00")),
    ("0.01万", Decimal("100.00")),
])
def test_amounts_accepted(raw, expected):
    assert _amount(raw) == (expected, {})


@pytest.mark.parametrize("raw, message", [
    ("-5", "直接投入资金不能为负数"),
    ("12.345", "直接投入资金最多保留两位小数（精确到分）"),
    ("一万", "直接投入资金应为金额：单位为元，如 12500.50；也可写万元，如 5万、5.2万元"),
    ("abc", "直接投入资金应为金额：单位为元，如 12500.50；也可写万元，如 5万、5.2万元"),
    ("NaN", "直接投入资金应为数字（单位：元）"),
    ("Infinity", "直接投入资金应为数字（单位：元）"),
    ("1e20", "直接投入资金超出可登记的范围"),
    (1e308, "直接投入资金超出可登记的范围"),
    (float("inf"), "直接投入资金应为数字（单位：元）"),
    ("1.2345678万", "直接投入资金最多保留两位小数（精确到分）"),
    ("5万万", "直接投入资金应为金额：单位为元，如 12500.50；也可写万元，如 5万、5.2万元"),
    ("万", "直接投入资金应为金额：单位为元，如 12500.50；也可写万元，如 5万、5.2万元"),
    ("5元万", "直接投入资金应为金额：单位为元，如 12500.50；也可写万元，如 5万、5.2万元"),
])
def test_amounts_refused_with_a_message_naming_the_field(raw, message):
    assert _amount(raw) == (None, {"amount": [message]})


def test_a_required_or_positive_amount_must_be_given_and_above_zero():
    assert _amount("", required=True) == (None, {"amount": ["请填写直接投入资金"]})
    assert _amount(" ", positive=True) == (None, {"amount": ["请填写直接投入资金"]})
    assert _amount("0", positive=True) == (None, {"amount": ["直接投入资金应大于零"]})
    assert _amount("0", required=True) == (Decimal("0.00"), {})


def test_a_feature_may_keep_its_own_words():
    wording = {"decimals": "{label}最多保留2位小数"}
    assert _amount("1.234", wording=wording) == (None, {"amount": ["直接投入资金最多保留2位小数"]})
    assert _amount("-1", wording=wording) == (None, {"amount": ["直接投入资金不能为负数"]})


@pytest.mark.parametrize("raw, expected", [("12", 12), ("１２", 12), ("1,200", 1200), ("", 0), (None, 0), (7, 7)])
def test_counts_accepted(raw, expected):
    assert _count(raw) == (expected, {})


@pytest.mark.parametrize("raw, message", [
    ("2.5", "受益人数应为整数"),
    ("二十", "受益人数应为整数"),
    ("+3", "受益人数应为整数"),
    ("-1", "受益人数不能为负数"),
    ("10000001", "受益人数超出可登记的范围"),
])
def test_counts_refused_with_a_message_naming_the_field(raw, message):
    assert _count(raw) == (None, {"persons": [message]})


def test_a_count_may_be_required_and_unbounded():
    assert _count("", required=True) == (None, {"persons": ["请填写受益人数"]})
    assert _count("99999999", maximum=None) == (99_999_999, {})


@pytest.mark.parametrize("raw", ["2024-06-18", "2024/06/18", "2024.06.18", "２０２４－０６－１８", "20240618",
                                 "2024/6/18", "2024年6月18日", "２０２４年６月１８日", 45461, 45461.0,
                                 datetime(2024, 6, 18, 0, 0)])
def test_dates_in_the_formats_used_today(app, raw):
    errors = Collector()
    assert parse_date(raw, "record_date", "帮扶日期", errors) == date(2024, 6, 18)
    assert errors.errors == {}


def test_dates_refused_with_a_message_naming_the_field(app):
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    cases = [
        ("", "请填写帮扶日期"),
        ("6月18日", "帮扶日期格式应为 年-月-日，如 2025-06-18"),
        ("2024-02-30", "帮扶日期格式应为 年-月-日，如 2025-06-18"),
        (tomorrow, "帮扶日期不能晚于今天"),
        ("2020-12-31", "帮扶日期不能早于2021年1月1日"),
    ]
    for raw, message in cases:
        errors = Collector()
        assert parse_date(raw, "record_date", "帮扶日期", errors) is None
        assert errors.errors == {"record_date": [message]}, raw


def test_dates_checked_against_bounds_read_once(app):
    # an import reads the first date and today once for its file and hands them in
    bounds = DateBounds(earliest=date(2024, 1, 1), latest=date(2024, 6, 30))
    cases = [
        (date(2024, 6, 30), date(2024, 6, 30), {}),
        ("2024-07-01", None, {"record_date": ["帮扶日期不能晚于今天"]}),
        (datetime(2023, 12, 31), None, {"record_date": ["帮扶日期不能早于2024年1月1日"]}),
    ]
    for raw, expected, messages in cases:
        errors = Collector()
        assert parse_date(raw, "record_date", "帮扶日期", errors, bounds=bounds) == expected
        assert errors.errors == messages, raw


# -- every range checked before any arithmetic (issue 13) --------------------------------------

@pytest.mark.parametrize("raw, message", [
    ("1e99999999999999999999999", "直接投入资金超出可登记的范围"),  # beyond what Decimal holds
    ("1e-99999999999999999999", "直接投入资金最多保留两位小数（精确到分）"),
    ("1e400万", "直接投入资金超出可登记的范围"),
    ("9" * 5000, "直接投入资金超出可登记的范围"),
    ("1_000", "直接投入资金应为金额：单位为元，如 12500.50；也可写万元，如 5万、5.2万元"),  # Decimal alone takes it
    ("٣", "直接投入资金应为金额：单位为元，如 12500.50；也可写万元，如 5万、5.2万元"),  # Arabic-Indic three: not a digit we read
    ("sNaN", "直接投入资金应为数字（单位：元）"),
    ("-Infinity", "直接投入资金应为数字（单位：元）"),
])
def test_extreme_amounts_are_refused_before_any_arithmetic(raw, message):
    assert _amount(raw) == (None, {"amount": [message]})


@pytest.mark.parametrize("raw", ["-0", "-0.00", -0.0, "0e-99999999", "0E+99999999", Decimal("-0")])
def test_minus_zero_is_zero(raw):
    value, errors = _amount(raw)
    assert errors == {} and value == 0 and str(value) == "0.00"


@pytest.mark.parametrize("raw, message", [
    ("9" * 5000, "受益人数超出可登记的范围"),  # int() itself refuses 4,300 digits
    ("-" + "9" * 5000, "受益人数不能为负数"),
    ("٣", "受益人数应为整数"),
    (1e308, "受益人数超出可登记的范围"),
])
def test_extreme_counts_are_refused(raw, message):
    assert _count(raw) == (None, {"persons": [message]})


def test_an_unbounded_count_is_still_what_a_column_holds():
    assert _count(str(2**31 - 1), maximum=None) == (2**31 - 1, {})
    assert _count(str(2**31), maximum=None) == (None, {"persons": ["受益人数超出可登记的范围"]})


@pytest.mark.parametrize("raw, expected, message", [
    ("12", Decimal("12.0"), None),
    ("１２．５", Decimal("12.5"), None),
    (8.0, Decimal("8.0"), None),
    ("", None, "请填写学时"),
    ("abc", None, "学时应为数字"),
    ("1_0", None, "学时应为数字"),
    ("0", None, "学时应大于0"),
    ("-0", None, "学时应大于0"),
    ("NaN", None, "学时应大于0"),
    ("1e308", None, "学时不能超过999.9"),
    ("1e99999999999999999999999", None, "学时不能超过999.9"),
    (1e308, None, "学时不能超过999.9"),
    ("1.25", None, "学时最多保留1位小数"),
    ("1e-99999999999999999999", None, "学时最多保留1位小数"),
])
def test_hours_to_a_tenth_checked_before_any_arithmetic(raw, expected, message):
    from registry.core.parsing import parse_hours

    errors = Collector()
    assert parse_hours(raw, "hours", "学时", errors, maximum=Decimal("999.9")) == expected
    assert errors.errors == ({"hours": [message]} if message else {})


@pytest.mark.parametrize("value", [0, 1, 7, 5000, 999_999_999_999, 1_000_000_000_000, -1, True, False,
                                   0.0, -0.0, 0.01, 0.001, 0.1 + 0.2, 1234.5, 1234.56, 1234.567, 5e-324, 1e-05,
                                   999_999_999_998.99, 999_999_999_999.0, 999_999_999_999.99, 1e12, 1e308,
                                   float("inf"), float("nan")])
def test_amount_fast_path_same_as_text(value):
    """A number cell takes ``parse_amount``'s shortcut; it gives the same cents (or the
    same message) as the number written as text, which takes the general path."""
    from registry.core.parsing import parse_amount

    number, text = Collector(), Collector()
    as_number = parse_amount(value, "amount", "金额", number)
    as_text = parse_amount(repr(value) if not isinstance(value, bool) else str(int(value)), "amount", "金额", text)
    if isinstance(value, bool):  # a boolean is not a number cell: refused, never read as 1 or 0
        assert as_number is None or str(as_number) == str(as_text)
        return
    assert str(as_number) == str(as_text)
    assert number.errors == text.errors
