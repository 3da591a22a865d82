"""The WeCom channel: renders outbox rows as app messages and template cards, and sends them."""

from __future__ import annotations

import base64
from functools import partial
from typing import Any

from sqlmodel import Session

from bot.channels.base import DeliveryError
from bot.channels.parts import Step, head_and_tail, remaining, send_parts, split_text
from bot.channels.wecom_api import WeComApi
from store.models import Outbox, User

SIZE_LIMITS = {"text": 2048, "markdown": 4096}  # bytes WeCom accepts in one message/send (doc 90236)
PER_MEMBER_PER_MINUTE = 30  # app messages beyond this to one member are dropped silently, errcode 0
MAX_LIST = 6  # buttons and horizontal fields one template card may carry
BUTTON_STYLES = {"primary": 1, "default": 2, "danger": 3}

TEXT = {"done": "已处理"}
MESSAGES = {
    "no_address": "收件人没有企业微信账号",
    "no_group": "企业微信应用消息不能发到群聊（未实现 appchat），只能发给个人",
    "unknown_kind": "企业微信渠道不支持的消息类型：{kind}",
    "invalid_user": "企业微信拒收，收件人无效：{users}",
    "no_update_ref": "要更新的卡片没有 response_code",
}


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


class WeComChannel:
    """Sends through `message/send`; a row that needs several messages remembers which ones went out."""

    name = "wecom"
    per_minute = PER_MEMBER_PER_MINUTE

    def __init__(self, api: WeComApi) -> None:
        self.api = api
        self.agent_id = api.config.agent_id

    def address_of(self, user: User) -> str | None:
        return user.wecom_userid

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
            return self._update_card(message, address)
        if not address:
            raise DeliveryError(MESSAGES["no_group" if message.chat_id else "no_address"], permanent=True)
        return ",".join(send_parts(session, message, self._steps(message, address)))[:200] or None

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

    def _update_card(self, message: Outbox, address: str | None) -> str | None:
        """Greys out the clicked card's buttons (WeCom accepts one update per response_code)."""
        response_code = message.payload.get("update_ref")
        if not response_code:
            raise DeliveryError(MESSAGES["no_update_ref"], permanent=True)
        body: dict[str, Any] = {
            "agentid": self.agent_id, "response_code": response_code, "button": {"replace_name": TEXT["done"]},
        }
        if address:
            body["userids"] = [address]
        self.api.call("POST", "message/update_template_card", json=body)
        return None
