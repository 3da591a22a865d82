"""The WeCom channel: renders outbox rows as app messages and template cards, and sends them."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlmodel import Session, col, select

from bot.channels.base import DeliveryError
from bot.channels.parts import Step, head_and_tail, remaining, send_parts, split_text
from bot.channels.wecom_api import WeComApi
from bot.channels.wecom_quota import DailyCap
from store.models import Message, Outbox, User

# Bytes one app message/send takes (doc 90236): text is cut beyond, markdown refused (40058). 4096 is only the
# group robot webhook's markdown limit.
SIZE_LIMITS = {"text": 2048, "markdown": 2048}
PER_MEMBER_PER_MINUTE = 30  # app messages beyond these to one member are dropped silently, errcode 0
PER_MEMBER_PER_HOUR = 1000
RESPONSE_CODE_TTL = timedelta(hours=72)  # a ResponseCode updates a card once, within 72 h (doc 94888)
HANDLER_WAIT = 1.0  # seconds between looks at whether the click's handler has run
MAX_LIST = 6  # buttons and horizontal fields one template card may carry
BUTTON_STYLES = {"primary": 1, "default": 2, "danger": 3}

TEXT = {"done": "已处理"}
MESSAGES = {
    "no_address": "收件人没有企业微信账号",
    "no_group": "企业微信应用消息不能发到群聊（未实现 appchat），只能发给个人",
    "unknown_kind": "企业微信渠道不支持的消息类型：{kind}",
    "invalid_user": "企业微信拒收，收件人无效：{users}",
    "no_update_ref": "要更新的卡片没有 response_code",
    "code_expired": "卡片的 response_code 已超过 72 小时，企业微信不再接受更新",
    "handler_pending": "等待卡片点击处理完成后再更新卡片",
}
SUPERSEDED = "superseded"  # platform_ref of a click's marker whose handler sent the new card instead


def card_markdown(card: dict[str, Any]) -> str:
    """A card without buttons or link as markdown: WeCom's template cards need one or the other."""
    lines = [f"**{card['title']}**", *card.get("lines", [])]
    lines += [f"{key}：{value}" for key, value in card.get("fields", [])]
    if card.get("note"):
        lines.append(f"> {card['note']}")
    return "\n".join(lines)


def template_card(card: dict[str, Any], task_id: str) -> dict[str, Any]:
    """`button_interaction` when the card has buttons (their keys are our opaque tokens), else `text_notice`."""
    main_title = {"title": card["title"], **({"desc": card["note"]} if card.get("note") else {})}
    content: dict[str, Any] = {"main_title": main_title, "task_id": task_id}
    if card.get("lines"):
        content["sub_title_text"] = "\n".join(card["lines"])
    if card.get("fields"):
        content["horizontal_content_list"] = [
            {"keyname": key, "value": value} for key, value in card["fields"][:MAX_LIST]
        ]
    if card.get("link"):
        content["card_action"] = {"type": 1, "url": card["link"][1]}
    if card.get("buttons"):
        content["card_type"] = "button_interaction"
        content["button_list"] = [
            {"text": b["label"], "style": BUTTON_STYLES.get(b.get("style", "default"), 2), "key": b["key"]}
            for b in card["buttons"][:MAX_LIST]
        ]
    else:
        content["card_type"] = "text_notice"
    return content


def updated_card(card: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The 「更新为新的卡片」 form: a card with buttons or a link as sent; any other as a button card whose one
    button shows grey `replace_text` (a text_notice needs a link, a button card at least one button)."""
    content = template_card(card, task_id)
    if content["card_type"] == "text_notice" and "card_action" not in content:
        content.update(card_type="button_interaction", replace_text=TEXT["done"],
                       button_list=[{"text": TEXT["done"], "style": BUTTON_STYLES["default"], "key": f"{task_id}:done"}])
    return content


class WeComChannel:
    """Sends through `message/send`; a row that needs several messages remembers which ones went out."""

    name = "wecom"
    per_minute = PER_MEMBER_PER_MINUTE
    per_hour = PER_MEMBER_PER_HOUR

    def __init__(self, api: WeComApi) -> None:
        self.api = api
        self.agent_id = api.config.agent_id
        self.daily_cap = DailyCap(api.clock)

    def address_of(self, user: User) -> str | None:
        return user.wecom_userid

    def ref_of(self, sent: Outbox, now: datetime) -> str | None:
        """The ResponseCode message/send gave for a card that can call back (`msgid|code`), while unexpired."""
        codes = [part.split("|", 1)[1] for part in (sent.platform_ref or "").split(",") if "|" in part]
        if not codes or sent.sent_at is None or now - sent.sent_at > RESPONSE_CODE_TTL:
            return None
        return codes[0]

    def messages_needed(self, message: Outbox, address: str | None) -> int:
        """Messages this row still owes the member (a card update is no new message)."""
        if message.kind == "card_update" or not address:
            return 0
        return remaining(message, self._steps(message, address))

    def split_off(self, message: Outbox, parts: int) -> tuple[str, str]:
        """A text or markdown row's text cut after its first `parts` messages."""
        return head_and_tail(message.payload.get("text", ""), SIZE_LIMITS[message.kind], parts)

    def deliver(self, session: Session, message: Outbox, address: str | None) -> str | None:
        if message.kind == "card_update":
            return self._update_card(session, message, address)
        if not address:
            raise DeliveryError(MESSAGES["no_group" if message.chat_id else "no_address"], permanent=True)
        refs = ",".join(send_parts(session, message, self._steps(message, address)))[:200] or None
        self.daily_cap.check(session)
        return refs

    def _steps(self, message: Outbox, address: str) -> list[Step]:
        payload = message.payload
        if message.kind in ("text", "markdown"):
            return self._text_steps(address, message.kind, payload.get("text", ""))
        if message.kind == "card":
            card = payload["card"]
            if not card.get("buttons") and not card.get("link"):
                return self._text_steps(address, "markdown", card_markdown(card))
            return [partial(self._send, address, "template_card", template_card(card, payload["card_id"]))]
        if message.kind == "image":
            image = base64.b64decode(payload["image_b64"])
            return [lambda: self._send(address, "image", {"media_id": self._upload(image)})] + self._text_steps(
                address, "text", payload.get("text", "")
            )
        raise DeliveryError(MESSAGES["unknown_kind"].format(kind=message.kind), permanent=True)

    def _text_steps(self, address: str, msgtype: str, text: str) -> list[Step]:
        pieces = split_text(text, SIZE_LIMITS[msgtype])
        return [partial(self._send, address, msgtype, {"content": piece}) for piece in pieces]

    def _send(self, address: str, msgtype: str, content: dict[str, Any]) -> str:
        answer = self.api.call(
            "POST", "message/send",
            json={"touser": address, "msgtype": msgtype, "agentid": self.agent_id, msgtype: content},
        )
        if answer.get("invaliduser"):  # errcode 0, yet nobody got it (not in the app's visible range …)
            raise DeliveryError(MESSAGES["invalid_user"].format(users=answer["invaliduser"]), permanent=True)
        ref = str(answer.get("msgid", ""))
        return f"{ref}|{answer['response_code']}" if answer.get("response_code") else ref

    def _upload(self, image: bytes) -> str:
        filename, mime = ("image.jpg", "image/jpeg") if image.startswith(b"\xff\xd8") else ("image.png", "image/png")
        answer = self.api.call("POST", "media/upload", params={"type": "image"},
                               files={"media": (filename, image, mime)})
        return str(answer["media_id"])

    def _update_card(self, session: Session, message: Outbox, address: str | None) -> str | None:
        """Spends the click's ResponseCode exactly once: on the handler's new card when it returned one (the
        「更新为新的卡片」 form), else on the click's marker (`answers`), which greys the buttons out."""
        payload = message.payload
        response_code = payload.get("update_ref")
        if not response_code:
            raise DeliveryError(MESSAGES["no_update_ref"], permanent=True)
        if self.api.clock.now() - message.created_at > RESPONSE_CODE_TTL:
            raise DeliveryError(MESSAGES["code_expired"], permanent=True)
        body: dict[str, Any] = {"agentid": self.agent_id, "response_code": response_code}
        if address:
            body["userids"] = [address]
        if "answers" in payload:
            if not _handled(session, payload["answers"]):
                raise DeliveryError(MESSAGES["handler_pending"], retry_after=HANDLER_WAIT)
            if _handler_update(session, message):
                return SUPERSEDED
            body["button"] = {"replace_name": TEXT["done"]}
        else:
            body["template_card"] = updated_card(payload["card"], payload["card_id"])
        self.api.call("POST", "message/update_template_card", json=body)
        return None


def _handled(session: Session, msg_id: str) -> bool:
    """Whether the inbox has processed the click (its replies, a card update among them, are then queued)."""
    found = session.exec(select(Message.id).where(Message.channel == WeComChannel.name, Message.msg_id == msg_id,
                                                   col(Message.processed_at).is_not(None)))
    return found.first() is not None


def _handler_update(session: Session, marker: Outbox) -> bool:
    """Whether a handler queued its own update of the card the marker's click came from (same ResponseCode)."""
    since = marker.created_at - RESPONSE_CODE_TTL
    rows = session.exec(select(Outbox).where(Outbox.kind == "card_update", Outbox.id != marker.id,
                                             col(Outbox.created_at) >= since, Outbox.status != "failed"))
    return any(row.payload.get("update_ref") == marker.payload["update_ref"] and "answers" not in row.payload
               for row in rows)
