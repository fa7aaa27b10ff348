"""The OpenAPI 3.1 document of /api/v1/: every endpoint under /api/ with its parameters,
its answers and their schemas (``tests/test_fuzz_api.py`` checks that no /api/ route is
missing and fuzzes the API against it with schemathesis)."""
from __future__ import annotations

from ..core.enums import ORG_KINDS, POSTING_ROLES, RECORD_CATEGORIES, RECORD_STATUSES, REGION_LEVELS
from ..core.parsing import ID_MAX
from .coverage import Row
from .definitions import FLAGS
from .gaps import GAP_KINDS

_CODE = {"name": "code", "in": "path", "required": True, "description": "12位统计用区划代码（省、市州、县市区或乡镇）",
         "schema": {"type": "string", "pattern": "^[0-9]{12}$"}, "example": "430000000000"}
_FILTERS = [
    {"name": "year", "in": "query", "schema": {"type": "integer", "minimum": 2015},
     "description": "年度（默认当年；2015年至明年）"},
    {"name": "category", "in": "query", "schema": {"type": "string", "enum": list(RECORD_CATEGORIES)}, "description": "帮扶类别"},
    {"name": "org_kind", "in": "query", "schema": {"type": "string", "enum": list(ORG_KINDS)}, "description": "帮扶主体类型"},
    {"name": "flag", "in": "query", "schema": {"type": "string", "enum": list(FLAGS)}, "description": "村标识"},
    {"name": "veteran", "in": "query", "schema": {"type": "string", "enum": ["", "0", "1"]},
     "description": "1：只计退役军人（在岗干部为退役军人的选派，及本人为退役军人的个人帮扶者的结对和帮扶记录）"},
]
API_LIMIT_MAX = 1000  # items of each gap list in one answer


def _json(ref: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


_UNAUTHORIZED = {"401": _json("Error", "未登录且未提供有效令牌")}
_ERRORS = {
    **_UNAUTHORIZED,
    "400": _json("Error", "查询参数不是整数或超出范围"),
    "403": _json("Error", "角色无权访问"),
    "404": _json("Error", "地区不存在或不在权限范围内"),
    "422": _json("Error", "参数不符合规则（errors 按参数名给出原因）"),
}

_INTEGER = {"type": "integer", "minimum": 0}
_MONEY = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "元，精确小数"}
_SHARE = {"type": ["number", "null"], "minimum": 0}
_MONEY_FIELDS = ("confirmed_amount", "confirmed_attracted", "confirmed_in_kind")


def _row_schema() -> dict:
    """One region's figures: the fields of ``coverage.Row`` (money as exact decimal
    strings), its total, shares and confirmation rate."""
    from dataclasses import fields

    properties: dict[str, dict] = {"code": {"type": "string", "pattern": "^[0-9]{12}$"}, "name": {"type": "string"},
                                   "level": {"type": "string", "enum": list(REGION_LEVELS)}}
    for f in fields(Row):
        if f.name not in properties:
            properties[f.name] = _MONEY if f.name in _MONEY_FIELDS else _INTEGER
    properties["confirmed_total"] = _MONEY
    shares = list(Row("", "", "").shares)
    properties["shares"] = {"type": "object", "properties": {k: _SHARE for k in shares}, "required": shares,
                            "additionalProperties": False}
    properties["confirmation_rate"] = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


_REGION = {
    "type": "object",
    "properties": {"code": {"type": "string", "pattern": "^[0-9]{12}$"}, "name": {"type": "string"},
                   "level": {"type": "string", "enum": list(REGION_LEVELS)}},
    "required": ["code", "name", "level"],
    "additionalProperties": False,
}

_GAP_ITEM = {
    "type": "object",
    "properties": {
        "subject": {"type": "string", "description": "村名，或“姓名（派驻地）”，或“记录标题（村名）”"},
        "code": {"type": "string", "pattern": "^[0-9]{12}$", "description": "村的区划代码（村的缺口；选派、记录的缺口为其所在村）"},
        "posting_id": {"type": "integer", "description": "选派编号（选派的缺口：岗前培训、到期接替等）"},
        "person_id": {"type": "integer", "description": "人员编号（选派的缺口）"},
        "role": {"type": "string", "enum": list(POSTING_ROLES), "description": "选派的身份（选派的缺口）"},
        "planned_end": {"type": ["string", "null"], "format": "date", "description": "计划期满日期（选派的缺口）"},
        "record_id": {"type": "integer", "description": "记录编号（逾期未确认的记录）"},
        "chase": {"type": "string", "enum": ["none", "chased", "county", "city"],
                  "description": "催办情况（逾期未确认的记录）：none 未催办，chased 已催办未升级，county 已升级至县级，city 已升级至市级"},
        "chase_text": {"type": "string", "description": "催办情况的文字，如“已催办 2 次，最近：2026年11月28日 某某（乡镇）；已升级至县级”"},
        "detail": {"type": "string"},
        "url": {"type": "string", "description": "处理该缺口的页面"},
        "date": {"type": ["string", "null"], "format": "date", "description": "相关日期（到岗、期满、提交等）"},
        "county": {"type": "string"},
        "township": {"type": "string"},
    },
    "required": ["subject", "detail", "url", "county", "township"],
    "additionalProperties": False,
}


def _coverage_schema() -> dict:
    """The coverage answer: its own figures, and each member another feature adds
    (``sections.coverage_api_section``) with that feature's schema."""
    from .sections import api_sections

    schema = {
        "type": "object",
        "properties": {
            "region": {"$ref": "#/components/schemas/Region"},
            "filters": {
                "type": "object", "description": "生效的筛选条件",
                "properties": {"year": {"type": "integer"},
                               "category": {"type": "string", "enum": list(RECORD_CATEGORIES)},
                               "org_kind": {"type": "string", "enum": list(ORG_KINDS)},
                               "flag": {"type": "string", "enum": list(FLAGS)},
                               "veteran": {"type": "integer", "enum": [1]}},
                "required": ["year"], "additionalProperties": False,
            },
            "total": {"$ref": "#/components/schemas/Row"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
            "confirmed_by_category": {"type": "object", "additionalProperties": _MONEY,
                                      "propertyNames": {"enum": list(RECORD_CATEGORIES)}},
            "confirmed_by_month": {"type": "array", "items": {
                "type": "object",
                "properties": {"month": {"type": "integer", "minimum": 1, "maximum": 12},
                               "category": {"type": "string", "enum": list(RECORD_CATEGORIES)},
                               "amount": _MONEY},
                "required": ["month", "category", "amount"], "additionalProperties": False}},
            "funnel": {"type": "object", "description": "各状态的帮扶记录数",
                       "properties": {k: _INTEGER for k in RECORD_STATUSES},
                       "required": list(RECORD_STATUSES), "additionalProperties": False},
        },
        "required": ["region", "filters", "total", "children", "confirmed_by_category",
                     "confirmed_by_month", "funnel"],
        "additionalProperties": False,
    }
    for section in api_sections():
        if section.name in schema["properties"]:
            raise ValueError(f"coverage API extra {section.name!r} would hide a member of the answer")
        schema["properties"][section.name] = section.schema
        schema["required"].append(section.name)
    return schema


def _coverage_parameters() -> list[dict]:
    from .sections import api_sections

    return [_CODE, *_FILTERS, *(p for section in api_sections() for p in section.parameters)]


def openapi_document(server: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "帮扶力量登记系统 API", "version": "1.0.0",
                 "description": "覆盖情况与缺口清单。数据范围与账号权限一致；范围外的地区返回 404。"},
        "servers": [{"url": server}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "本文档（OpenAPI 3.1）", "operationId": "getOpenApi",
                    "responses": {"200": _json("OpenApi", "OpenAPI 文档"), **_UNAUTHORIZED},
                }
            },
            "/api/v1/coverage/{code}": {
                "get": {
                    "summary": "地区及其下级的覆盖情况", "operationId": "getCoverage",
                    "parameters": _coverage_parameters(),
                    "responses": {"200": _json("Coverage", "覆盖情况"), **_ERRORS},
                }
            },
            "/api/v1/gaps/{code}": {
                "get": {
                    "summary": "地区的缺口清单", "operationId": "getGaps",
                    "parameters": [
                        _CODE,
                        {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(GAP_KINDS)},
                         "description": "只列这一类缺口（默认全部）"},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": API_LIMIT_MAX},
                         "description": "每类最多列出的条数（默认100，最多1000）"},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX},
                         "description": "每类跳过的条数"},
                    ],
                    "responses": {"200": _json("Gaps", "缺口清单"), **_ERRORS},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "个人 API 令牌（在“API 令牌”页面生成）"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": {
                "OpenApi": {"type": "object", "required": ["openapi", "info", "paths"],
                            "properties": {"openapi": {"type": "string"}, "info": {"type": "object"},
                                           "paths": {"type": "object"}}},
                "Region": _REGION,
                "Row": _row_schema(),
                "Coverage": _coverage_schema(),
                "Gaps": {
                    "type": "object",
                    "properties": {
                        "region": {"$ref": "#/components/schemas/Region"},
                        "gaps": {"type": "array", "items": {
                            "type": "object",
                            "properties": {"kind": {"type": "string", "enum": list(GAP_KINDS)}, "label": {"type": "string"},
                                           "count": _INTEGER,
                                           "items": {"type": "array", "items": {"$ref": "#/components/schemas/GapItem"}}},
                            "required": ["kind", "label", "count", "items"], "additionalProperties": False}},
                    },
                    "required": ["region", "gaps"],
                    "additionalProperties": False,
                },
                "GapItem": _GAP_ITEM,
                "Error": {"type": "object", "required": ["error", "message"],
                          "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                                         "errors": {"type": "object", "description": "参数名（或空串）→ 原因",
                                                    "additionalProperties": {"type": "array", "items": {"type": "string"}}}}},
            },
        },
    }
