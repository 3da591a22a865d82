"""`POST /ingest/archive`: WeCom chat-archive (msgaudit) records in, each stored raw in the inbox and turned into a touch."""

from __future__ import annotations

import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.events import Event, EventKind
from bot.runtime import Runtime
from handlers import touches
from rules.touches import Sighting
from store import inbox
from store.db import session_scope
from store.models import Message, User

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
SOURCE = "archive"
REQUIRED = ("msgid", "action", "from", "msgtime", "msgtype")

TEXT = {
    "unauthorized": "未授权：缺少或错误的 Bearer 令牌",
    "too_large": "请求体超过 1 MiB",
    "not_json": "请求体不是合法的 JSON",
    "not_array": "请求体必须是 JSON 数组（会话存档记录列表）",
    "not_object": "记录必须是 JSON 对象",
    "missing": "缺少字段：{fields}",
    "bad_time": "msgtime 应为毫秒时间戳",
    "unknown_user": "未知用户：{sender}（发送人须是组织内已导入的企业微信成员）",
    "failed": "处理失败，请稍后重试",
    "module_off": "触达采集模块未启用",
}


def _refuse(status: int, key: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": TEXT[key]}, status_code=status, headers=headers)


def _authorised(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


async def _body(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def sighting_of(record: dict[str, Any]) -> tuple[EventKind, Sighting]:
    """The per-type object of a msgaudit record, as the touch classifier sees it."""
    kind = record["msgtype"]
    part = record.get(kind) if isinstance(record.get(kind), dict) else {}
    if kind == "text":
        return "text", Sighting("text", text=str(part.get("content", "")))
    if kind in ("link", "docmsg"):
        url = part.get("link_url")
        return "link", Sighting("link", url=url, title=part.get("title"), text=str(part.get("description", "")))
    if kind in ("file", "voip_doc_share"):
        name = part.get("filename") or ""
        ext = part.get("fileext")
        filename = name if not ext or name.lower().endswith("." + str(ext).lower()) else f"{name}.{ext}"
        return "file", Sighting("file", filename=filename or None)
    if kind in ("meeting", "meeting_voice_call", "voiptext"):
        return "meeting", Sighting("meeting", text=str(part.get("topic", "")))
    if kind == "image":
        return "image", Sighting("image")
    return "other", Sighting("text")


def _problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return TEXT["not_object"]
    missing = [f for f in REQUIRED if record.get(f) in (None, "")]
    if missing:
        return TEXT["missing"].format(fields="、".join(missing))
    if not isinstance(record["msgtime"], int) or isinstance(record["msgtime"], bool):
        return TEXT["bad_time"]
    return None


def _sender(session: Session, record: dict[str, Any]) -> User | None:
    return session.exec(select(User).where(User.wecom_userid == str(record["from"]), User.active.is_(True))).first()  # type: ignore[attr-defined]


def _store_one(runtime: Runtime, session: Session, user: User, record: dict[str, Any]) -> bool:
    """Inbox row (raw record) and touch in one transaction; False when this msgid was already stored."""
    now = runtime.clock.now()
    at = datetime.fromtimestamp(record["msgtime"] / 1000, UTC)
    kind, sighting = sighting_of(record)
    chat = record.get("roomid") or None
    event = Event(channel=SOURCE, msg_id=str(record["msgid"]), sender=str(record["from"]), kind=kind,
                  received_at=now, chat=chat, text=sighting.text, url=sighting.url, filename=sighting.filename,
                  raw=record)
    row_id = inbox.store_inbound(
        session.connection(), channel=SOURCE, msg_id=event.msg_id, kind=kind, received_at=now,
        event=event.to_dict(), sender=event.sender, chat_id=chat, text=sighting.text or None,
    )
    if row_id is None:
        return False
    if record["action"] == "send":
        origin = touches.Origin(source=SOURCE, msg_id=event.msg_id, at=at, chat=chat)
        touches.capture(session, runtime.rules, user=user, sighting=sighting, origin=origin, now=now,
                        health_tz=runtime.clock.tz if runtime.modules.health else None)
    row = session.get(Message, row_id)
    assert row is not None
    row.user_id, row.processed_at = user.id, now
    session.add(row)
    return True


def ingest(runtime: Runtime, engine: Engine, records: list[Any]) -> dict[str, Any]:
    """Each valid record in its own transaction, so one bad record never costs the others."""
    stored = duplicates = 0
    rejected: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        msgid = record.get("msgid") if isinstance(record, dict) else None
        problem = _problem(record)
        if problem is None:
            try:
                with session_scope(engine) as session:
                    user = _sender(session, record)
                    if user is None:
                        problem = TEXT["unknown_user"].format(sender=record["from"])
                    elif _store_one(runtime, session, user, record):
                        stored += 1
                    else:
                        duplicates += 1
            except Exception:
                log.exception("archive record %s (%s) failed", index, msgid)
                problem = TEXT["failed"]
        if problem:
            rejected.append({"index": index, "msgid": msgid, "error": problem})
    return {"stored": stored, "duplicates": duplicates, "rejected": rejected}


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter()
    token = runtime.settings.ingest.archive_token

    @api.post("/ingest/archive")
    async def archive(request: Request) -> JSONResponse:
        if not runtime.modules.touches:  # switched off in the admin console since start-up: as if not mounted
            return _refuse(404, "module_off")
        if not _authorised(request, token):
            return _refuse(401, "unauthorized")
        body = await _body(request)
        if body is None:
            return _refuse(413, "too_large")
        try:
            records = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _refuse(400, "not_json")
        if not isinstance(records, list):
            return _refuse(400, "not_array")
        result = await run_in_threadpool(ingest, runtime, runtime.engine, records)
        runtime.wake()
        return JSONResponse(result)

    return api
