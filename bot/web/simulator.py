"""The local chat simulator's HTTP API: the page (and tests) talk to the bot exactly like a platform would."""

from __future__ import annotations

import uuid
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlmodel import select

from bot.events import Event, EventKind
from bot.runtime import Runtime
from store.access import reps_in_scope
from store.db import session_scope
from store.models import ChatBinding, Customer, SimMessage, Team, User

MAX_TEXT = 20_000

TEXT = {"unknown_user": "模拟器里没有这个用户：{user}", "bot": "留痕助手", "file": "📎 {name}", "link": "🔗 {title}",
        "group": "{customer} 客户群",
        "too_long": "消息太长：最多 {limit} 字，这条有 {n} 字。请分几条发送。",
        "leap": "已快进 {days} 天，现在是 {now}。定时任务共推送 {pushed} 条。",
        "held": "其中 {held} 条生成于免打扰时段（{start}–{end}），已顺延到 {resume} 送达。"}
DIRECT = "direct"  # the `chat` filter value for the 1:1 with the bot


class SendIn(BaseModel):
    user: str
    text: str  # checked against MAX_TEXT in the handler, so the refusal is a Chinese sentence
    chat: str | None = None  # a customer group chat (ChatBinding); None: the 1:1 with the bot


class FileIn(BaseModel):
    """A file as the platforms announce one: its name and (for type sniffing) its first bytes."""

    user: str
    filename: str = Field(max_length=255)
    head_b64: str = Field(default="", max_length=MAX_TEXT)
    content_type: str | None = None
    chat: str | None = None


class LinkIn(BaseModel):
    user: str
    url: str = Field(max_length=2000)
    title: str = Field(default="", max_length=200)
    chat: str | None = None


class ClickIn(BaseModel):
    user: str
    key: str
    card_ref: str | None = None


class MenuIn(BaseModel):
    user: str
    key: str


class ClockIn(BaseModel):
    days: int = Field(ge=1, le=30)


def _message_json(row: SimMessage) -> dict[str, Any]:
    return {"id": row.id, "direction": row.direction, "kind": row.kind, "payload": row.payload,
            "at": row.at.isoformat() if row.at else None}


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter()
    page = files("bot.web").joinpath("sim.html").read_text(encoding="utf-8")

    def messages_after(user: str, after: int, chat: str | None = None) -> list[dict[str, Any]]:
        """`chat`: None for every line, DIRECT for the 1:1 with the bot, else one group chat."""
        with session_scope(runtime.engine) as session:
            query = select(SimMessage).where(SimMessage.user_id == user, SimMessage.id > after)
            if chat is not None:
                query = query.where(SimMessage.chat_id.is_(None) if chat == DIRECT  # type: ignore[union-attr]
                                    else SimMessage.chat_id == chat)
            rows = session.exec(query.order_by(SimMessage.id)).all()
            return [_message_json(r) for r in rows]

    def check_user(user: str) -> None:
        with session_scope(runtime.engine) as session:
            if session.get(User, user) is None:
                raise HTTPException(404, TEXT["unknown_user"].format(user=user))

    def deliver(user: str, kind: EventKind, shown: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
        """Stores what the user did, runs it through the same inbox path, returns the new chat lines."""
        check_user(user)
        with session_scope(runtime.engine) as session:
            last = session.exec(select(SimMessage.id).order_by(SimMessage.id.desc())).first() or 0  # type: ignore[union-attr]
            if shown is not None:
                session.add(SimMessage(user_id=user, chat_id=fields.get("chat"), direction="in", kind=kind,
                                       payload=shown, at=runtime.clock.now()))
        event = Event(channel="local", msg_id=uuid.uuid4().hex, sender=user, kind=kind,
                      received_at=runtime.clock.now(), **fields)
        runtime.inbox.ingest(event)
        runtime.work_once()
        return {"messages": messages_after(user, last)}

    @api.get("/sim", response_class=HTMLResponse)
    def sim_page() -> str:
        return page

    @api.get("/sim/api/users")
    def sim_users() -> list[dict[str, Any]]:
        with session_scope(runtime.engine) as session:
            teams = {t.id: t.name for t in session.exec(select(Team)).all()}
            return [
                {"id": u.id, "name": u.name, "role": u.role, "team": teams.get(u.team_id)}
                for u in session.exec(select(User).where(User.active.is_(True)).order_by(User.role, User.id)).all()  # type: ignore[attr-defined]
            ]

    @api.get("/sim/api/chats")
    def sim_chats(user: str) -> list[dict[str, Any]]:
        """The 1:1 with the bot, then the customer group chats of the customers the user may see."""
        check_user(user)
        with session_scope(runtime.engine) as session:
            owners = reps_in_scope(session, session.get(User, user))  # type: ignore[arg-type]
            query = (select(ChatBinding.chat_id, Customer.name).join(Customer, Customer.id == ChatBinding.customer_id)
                     .where(ChatBinding.channel == "local").order_by(Customer.name))
            if owners is not None:
                query = query.where(Customer.owner_id.in_(owners))  # type: ignore[union-attr]
            groups = [{"id": chat, "name": TEXT["group"].format(customer=name)} for chat, name in session.exec(query)]
        return [{"id": DIRECT, "name": TEXT["bot"]}, *groups]

    @api.get("/sim/api/messages")
    def sim_messages(user: str, after: int = 0, chat: str | None = None) -> dict[str, Any]:
        return {"messages": messages_after(user, after, chat), "now": runtime.clock.local_now().isoformat()}

    @api.post("/sim/api/send")
    def sim_send(body: SendIn) -> dict[str, Any]:
        if len(body.text) > MAX_TEXT:
            raise HTTPException(413, TEXT["too_long"].format(limit=MAX_TEXT, n=len(body.text)))
        return deliver(body.user, "text", {"text": body.text}, text=body.text, chat=body.chat)

    @api.post("/sim/api/file")
    def sim_file(body: FileIn) -> dict[str, Any]:
        """Goes through the same inbox path as a platform's file message (touches classify it)."""
        payload = {k: v for k, v in {"head_b64": body.head_b64, "content_type": body.content_type}.items() if v}
        return deliver(body.user, "file", {"text": TEXT["file"].format(name=body.filename)},
                       filename=body.filename, payload=payload, chat=body.chat)

    @api.post("/sim/api/link")
    def sim_link(body: LinkIn) -> dict[str, Any]:
        return deliver(body.user, "link", {"text": TEXT["link"].format(title=body.title or body.url)},
                       url=body.url, text=body.title, payload={"title": body.title} if body.title else {},
                       chat=body.chat)

    @api.post("/sim/api/click")
    def sim_click(body: ClickIn) -> dict[str, Any]:
        return deliver(body.user, "card_action", None, action=body.key, card_ref=body.card_ref)

    @api.post("/sim/api/menu")
    def sim_menu(body: MenuIn) -> dict[str, Any]:
        return deliver(body.user, "menu_click", {"text": f"[菜单] {body.key}"}, action=body.key)

    @api.post("/sim/api/clock")
    def sim_clock(body: ClockIn) -> dict[str, Any]:
        """"快进": moves the demo clock, running each sweep when the scheduler would have (Runtime.fast_forward)."""
        leap = runtime.fast_forward(body.days)
        quiet = runtime.rules.notify.quiet_hours
        notice = TEXT["leap"].format(days=body.days, now=leap.now.strftime("%m-%d %H:%M"), pushed=leap.pushed)
        if leap.held:
            notice += TEXT["held"].format(held=leap.held, start=quiet.start.strftime("%H:%M"),
                                          end=quiet.end.strftime("%H:%M"), resume=quiet.resume_at.strftime("%H:%M"))
        return {"now": leap.now.isoformat(), "pushed": leap.pushed, "held": leap.held, "notice": notice}

    return api
