"""Identity and reference data rules (DESIGN.md section 5): credit codes, ID numbers, phones.

Each function normalises its input and returns it, or raises ``RuleViolation`` naming
the field with a Chinese message.
"""
from __future__ import annotations

import re
from datetime import date
from operator import mul

from .parsing import halfwidth
from .rules import RuleViolation

# GB 32100-2015: 31 characters, no I, O, Z, S, V.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_ZERO = ord("0") * sum(_ID_WEIGHTS)

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def credit_code_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(value: str, field: str = "credit_code") -> str:
    code = halfwidth(value).upper().replace(" ", "")
    if len(code) != 18:
        raise RuleViolation(f"统一社会信用代码应为18位，当前为{len(code)}位", field)
    bad = [c for c in code if c not in _USCC_ALPHABET]
    if bad:
        raise RuleViolation(f"统一社会信用代码含有不允许的字符“{bad[0]}”", field)
    if credit_code_check_char(code[:17]) != code[17]:
        raise RuleViolation("统一社会信用代码校验位不正确", field)
    return code


def id_check_char(first17: str) -> str:
    if len(first17) == 17 and first17.isascii() and first17.isdigit():  # codes less 48 ("0") are the digits
        total = sum(map(mul, first17.encode(), _ID_WEIGHTS)) - _ID_ZERO
    else:
        total = sum(map(mul, map(int, first17), _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def normalize_id_number(value: str, field: str = "id_number") -> str:
    """Validate a 居民身份证号; full-width digits and a lower-case x are normalised."""
    number = halfwidth(value).upper().replace(" ", "")
    if len(number) != 18:
        raise RuleViolation(f"身份证号应为18位，当前为{len(number)}位", field)
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise RuleViolation("身份证号前17位应为数字，末位应为数字或X", field)
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise RuleViolation("身份证号中的出生日期无效", field) from None
    if born.year < 1900 or born > date.today():
        raise RuleViolation("身份证号中的出生日期无效", field)
    if id_check_char(number[:17]) != number[17]:
        raise RuleViolation("身份证号校验位不正确", field)
    return number


def birth_date_from_id(number: str) -> date:
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def gender_from_id(number: str) -> str:
    return "male" if int(number[16]) % 2 else "female"


def normalize_phone(value: str, field: str = "phone") -> str:
    phone = halfwidth(value).replace(" ", "").replace("－", "-")
    if _MOBILE.match(phone) or _LANDLINE.match(phone):
        return phone
    raise RuleViolation("电话号码应为11位手机号或带区号的固定电话（如0731-88888888）", field)


def mask_id_number(number: str | None) -> str:
    if not number:
        return ""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


# The import templates' example 身份证号: a valid one (check digit 8), so an example row
# a user leaves in is not refused for its number.
EXAMPLE_ID_NUMBER = "430102199001011238"
