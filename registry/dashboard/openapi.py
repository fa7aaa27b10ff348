"""The OpenAPI 3.1 document of /api/v1/."""
from __future__ import annotations

from ..core.enums import ORG_KINDS, RECORD_CATEGORIES
from ..core.parsing import ID_MAX
from .definitions import FLAGS
from .gaps import GAP_KINDS

_CODE = {"name": "code", "in": "path", "required": True, "description": "12位统计用区划代码（省、市州、县市区或乡镇）",
         "schema": {"type": "string", "pattern": "^[0-9]{12}$"}}
_FILTERS = [
    {"name": "year", "in": "query", "schema": {"type": "integer"}, "description": "年度（默认当年）"},
    {"name": "category", "in": "query", "schema": {"type": "string", "enum": list(RECORD_CATEGORIES)}, "description": "帮扶类别"},
    {"name": "org_kind", "in": "query", "schema": {"type": "string", "enum": list(ORG_KINDS)}, "description": "帮扶主体类型"},
    {"name": "flag", "in": "query", "schema": {"type": "string", "enum": list(FLAGS)}, "description": "村标识"},
]
API_LIMIT_MAX = 1000  # items of each gap list in one answer
_ERRORS = {
    "400": {"description": "查询参数不是整数或超出范围", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    "401": {"description": "未登录且未提供有效令牌"},
    "403": {"description": "角色无权访问"},
    "404": {"description": "地区不存在或不在权限范围内"},
    "422": {"description": "参数不符合规则", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
}

_ROW = {
    "type": "object",
    "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "level": {"type": "string"},
        "villages": {"type": "integer"}, "key_villages": {"type": "integer"},
        "first_secretary": {"type": "integer"}, "first_secretary_key": {"type": "integer"},
        "backing_unit": {"type": "integer"}, "backing_unit_key": {"type": "integer"},
        "enterprise": {"type": "integer"}, "enterprise_key": {"type": "integer"},
        "support_12m": {"type": "integer"}, "support_12m_key": {"type": "integer"},
        "confirmed_count": {"type": "integer"},
        "confirmed_amount": {"type": "string", "description": "元，精确小数"},
        "confirmed_attracted": {"type": "string"}, "confirmed_in_kind": {"type": "string"},
        "confirmed_total": {"type": "string"},
        "pending": {"type": "integer"}, "disputed": {"type": "integer"}, "overdue": {"type": "integer"},
        "posted_people": {"type": "integer"}, "trained_people": {"type": "integer"},
        "ending_soon": {"type": "integer"}, "teams_under_min": {"type": "integer"}, "months_under_min": {"type": "integer"},
        "shares": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
        "confirmation_rate": {"type": ["number", "null"]},
    },
}


def openapi_document(server: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "帮扶力量登记系统 API", "version": "1.0.0",
                 "description": "覆盖情况与缺口清单。数据范围与账号权限一致；范围外的地区返回 404。"},
        "servers": [{"url": server}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/v1/coverage/{code}": {
                "get": {
                    "summary": "地区及其下级的覆盖情况", "operationId": "getCoverage",
                    "parameters": [_CODE, *_FILTERS],
                    "responses": {"200": {"description": "覆盖情况", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Coverage"}}}}, **_ERRORS},
                }
            },
            "/api/v1/gaps/{code}": {
                "get": {
                    "summary": "地区的缺口清单", "operationId": "getGaps",
                    "parameters": [
                        _CODE,
                        {"name": "kind", "in": "query", "schema": {"type": "string", "enum": list(GAP_KINDS)}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": API_LIMIT_MAX}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX}},
                    ],
                    "responses": {"200": {"description": "缺口清单", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Gaps"}}}}, **_ERRORS},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "个人 API 令牌（在“API 令牌”页面生成）"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": {
                "Row": _ROW,
                "Coverage": {
                    "type": "object",
                    "properties": {
                        "region": {"type": "object"}, "filters": {"type": "object"},
                        "total": {"$ref": "#/components/schemas/Row"},
                        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
                        "confirmed_by_category": {"type": "object", "additionalProperties": {"type": "string"}},
                        "confirmed_by_month": {"type": "array", "items": {"type": "object"}},
                        "funnel": {"type": "object", "additionalProperties": {"type": "integer"}},
                    },
                },
                "Gaps": {"type": "object", "properties": {"region": {"type": "object"}, "gaps": {"type": "array", "items": {
                    "type": "object", "properties": {"kind": {"type": "string"}, "label": {"type": "string"},
                                                     "count": {"type": "integer"}, "items": {"type": "array"}}}}}},
                "Error": {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                                                           "errors": {"type": "object"}}},
            },
        },
    }
