"""Files a confirmed daily report as a DingTalk 日志 through the oapi report API (one outbox row of kind report_log).

The handler decides what goes into which template field, by the field's name (rules: reports.yaml `dingtalk_log`).
Here the template is looked up by name for the author (`/topapi/report/template/getbyname`) to learn its id and
each field's sort and type, then the log is created (`/topapi/report/create`) with the rep as author and the
payload's receivers. Nothing is filed before the create call succeeds, so a retried row files once.
"""

from __future__ import annotations

from typing import Any

from bot.channels.base import DeliveryError
from bot.channels.dingtalk_api import DingTalkApi
from handlers.reports import REPORT_LOG

KIND = REPORT_LOG
TEMPLATE_PATH = "/topapi/report/template/getbyname"
CREATE_PATH = "/topapi/report/create"
DD_FROM = "liuhen"  # the log's source as DingTalk records it
MAX_CONTENT = 1000  # characters DingTalk accepts in one field

MESSAGES = {
    "no_author": "日志作者没有钉钉账号",
    "no_template": "钉钉没有返回日志模板「{template}」",
    "missing_fields": "钉钉日志模板「{template}」没有字段：{fields}（请核对 reports.yaml 的 dingtalk_log.fields）",
}


def contents(template: dict[str, Any], fields: dict[str, str], name: str) -> list[dict[str, Any]]:
    """The create call's `contents`: each field's text under the template's key, sort and type."""
    known = {f.get("field_name"): f for f in template.get("fields") or []}
    missing = [key for key in fields if key not in known]
    if missing:
        raise DeliveryError(MESSAGES["missing_fields"].format(template=name, fields="、".join(missing)),
                            permanent=True)
    return [{"key": key, "sort": known[key]["sort"], "type": known[key]["type"], "content_type": "markdown",
             "content": text[:MAX_CONTENT]} for key, text in fields.items()]


def file_report(api: DingTalkApi, payload: dict[str, Any], author: str | None) -> str:
    """Creates the 日志; returns DingTalk's report id. Platform errors keep DingTalkApi's retry/permanent verdict."""
    if not author:
        raise DeliveryError(MESSAGES["no_author"], permanent=True)
    name = payload["template"]
    template = api.oapi(TEMPLATE_PATH, json={"userid": author, "template_name": name}).get("result") or {}
    if not template.get("id"):
        raise DeliveryError(MESSAGES["no_template"].format(template=name), permanent=True)
    param: dict[str, Any] = {
        "template_id": template["id"], "userid": author, "dd_from": DD_FROM, "to_chat": False,
        "contents": contents(template, payload["fields"], name),
    }
    if payload.get("to"):
        param["to_userids"] = payload["to"]
    return str(api.oapi(CREATE_PATH, json={"create_report_param": param}).get("result") or "")
