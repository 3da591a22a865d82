"""The DingTalk channel: robot messages and interactive cards out through the OpenAPI, the Stream in."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from bot import cards
from bot.cards import Reply
from bot.channels import dingtalk_report
from bot.channels.base import DeliveryError
from bot.channels.dingtalk_api import DingTalkApi, DingTalkApiError
from bot.channels.dingtalk_events import CHANNEL, PRIVATE_KEYS
from bot.channels.dingtalk_stream import StreamListener, StreamState
from bot.channels.parts import (
    Step,
    char_prefix,
    head_and_tail,
    remaining,
    send_parts,
    split_text,
    utf8_prefix,
)
from bot.clock import Clock
from bot.config import DingTalkConfig
from bot.events import Event
from bot.group_commit import AcksFirst
from bot.metrics import Metrics
from store import alerts, users
from store.models import Alert, Outbox, User

log = logging.getLogger(__name__)

FLOW_CONTROLLED_SECONDS = 60.0  # batchSend's flowControlledStaffIdList: this member gets too many right now
PER_RECIPIENT_PER_MINUTE = 20  # robot messages to one group (DingTalk's documented robot limit), kept for 1:1 too
# Characters per robot text/markdown: DingTalk's own connector sends 2 000-character chunks, markdown past ~3 500
# stops rendering, and a robot body must stay under 20 000 bytes (2 000 CJK characters JSON-escaped ≈ 12 000).
TEXT_LIMIT = 2000
CARD_VALUE_LIMIT = 1024  # UTF-8 bytes per cardParamMap value ("1 KB"; bytes is the stricter reading)

TEXT = {
    "continued": "（内容较长，其余见下一条消息）",
    "continued_title": "{title}（续）",
    "cut": "…",
    "quota": "钉钉本月的开放接口调用量已用完（{code}），钉钉消息暂停发送，每小时重试一次，"
             "下月初或升级钉钉版本后自动恢复。请管理员在钉钉开发者后台「资源管理」查看用量。",
}
MESSAGES = {
    "no_address": "收件人没有钉钉账号",
    "unknown_kind": "钉钉渠道不支持的消息类型：{kind}",
    "invalid_user": "钉钉拒收，收件人无效：{users}",
    "flow_controlled": "钉钉对收件人 {users} 限流",
    "not_delivered": "钉钉卡片投递失败：{errors}",
    "no_update_ref": "要更新的卡片没有 outTrackId",
    "value_too_long": "卡片变量 {key} 超过钉钉的 1KB 上限（{size} 字节），无法发送",
}


def card_params(card: dict[str, Any]) -> dict[str, str]:
    """The card template's variables (all strings; `buttons` is a JSON array the template loops over)."""
    body = [*card.get("lines", []), *(f"**{key}**：{value}" for key, value in card.get("fields", []))]
    if card.get("note"):
        body.append(f"> {card['note']}")
    link = card.get("link") or ["", ""]
    buttons = [{"text": b["label"], "token": b["key"], "style": b.get("style", "default")}
               for b in card.get("buttons", [])]
    return {
        "title": card["title"], "content": "\n\n".join(body), "buttons": json.dumps(buttons, ensure_ascii=False),
        "link_text": link[0], "link_url": link[1], "status": "",
    }


def fit_card(params: dict[str, str], *, note: str = TEXT["continued"]) -> tuple[dict[str, str], str]:
    """The variables within DingTalk's 1 KB per value, and the content that did not fit (`note` ends the part
    that did). A title is cut; buttons and a link cannot be: `check_fits` refuses them."""
    fitted = dict(params)
    rest = ""
    if _size(params["content"]) > CARD_VALUE_LIMIT:
        room = CARD_VALUE_LIMIT - _size("\n\n" + note)
        head, *tail = split_text(params["content"], room, utf8_prefix)
        fitted["content"], rest = f"{head}\n\n{note}", "\n\n".join(tail)
    if _size(params["title"]) > CARD_VALUE_LIMIT:
        fitted["title"] = utf8_prefix(params["title"], CARD_VALUE_LIMIT - _size(TEXT["cut"])) + TEXT["cut"]
    return fitted, rest


def check_fits(params: dict[str, str]) -> None:
    """DingTalk refuses the whole card for one value over 1 KB: say which, and send nothing."""
    for key, value in params.items():
        if _size(value) > CARD_VALUE_LIMIT:
            raise DeliveryError(MESSAGES["value_too_long"].format(key=key, size=_size(value)), permanent=True)


def _size(value: str) -> int:
    return len(value.encode("utf-8"))


def card_markdown(card: dict[str, Any]) -> str:
    """A card as one markdown text, when no card template is configured."""
    params = card_params(card)
    link = f"\n\n[{params['link_text']}]({params['link_url']})" if params["link_url"] else ""
    return f"#### {params['title']}\n\n{params['content']}{link}"


def markdown_title(text: str) -> str:
    """The notification preview of a markdown message: its first line without markdown marks."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return first.strip().lstrip("#>*- ").replace("**", "")[:30]


class DingTalkChannel:
    """Outbound through the dispatcher; `listen` starts the Stream that feeds the inbox."""

    name = CHANNEL
    per_minute = PER_RECIPIENT_PER_MINUTE

    def __init__(self, config: DingTalkConfig, engine: Engine, clock: Clock, *, api: DingTalkApi | None = None,
                 metrics: Metrics | None = None) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self.metrics = metrics
        self.api = api or DingTalkApi(config, engine, clock)
        self.stream: StreamListener | None = None

    @property
    def state(self) -> StreamState:
        return self.stream.state if self.stream else "disconnected"

    def listen(self, ingest_many: Callable[[list[Event]], list[bool]], wake: Callable[[], None], *,
               gate: AcksFirst | None = None) -> None:
        """ACKs what `ingest_many` committed (or spooled); the steps after the commit cannot hold the ACK back."""

        def after_commit(events: list[Event], stored: list[bool]) -> None:
            if any(stored):
                wake()

        self.stream = StreamListener(self.config, ingest_many, self.clock, after=after_commit, gate=gate)
        self.stream.start()

    def close(self) -> None:
        if self.stream:
            self.stream.stop()
            self.stream = None

    # -- outbound ----------------------------------------------------------------------------------

    def address_of(self, user: User) -> str | None:
        return user.dingtalk_userid

    def split_off(self, message: Outbox, parts: int) -> tuple[str, str]:
        """A text or markdown row's text cut after its first `parts` messages."""
        return head_and_tail(message.payload.get("text", ""), TEXT_LIMIT, parts, char_prefix)

    def ref_of(self, sent: Outbox, now: datetime) -> str | None:
        """The card instance's outTrackId when `sent` went out as an interactive card (not as markdown)."""
        track_id = sent.payload.get("card_id")
        return str(track_id) if track_id and str(track_id) in (sent.platform_ref or "").split(",") else None

    def messages_needed(self, message: Outbox, address: str | None) -> int:
        """Messages this row still owes its group or member (a card update is no new message)."""
        if message.kind in ("card_update", dingtalk_report.KIND) or not (address or message.chat_id):
            return 0
        return remaining(message, self._steps(message, address))

    def deliver(self, session: Session, message: Outbox, address: str | None) -> str | None:
        try:
            return self._deliver(session, message, address)
        except DingTalkApiError as exc:
            if exc.quota_exceeded:
                self._quota_spent(session, exc)
            raise

    def _quota_spent(self, session: Session, exc: DingTalkApiError) -> None:
        """Once a month: a log line, the metric, an alert and one message to each admin (which waits with the
        rest when the admin is on DingTalk only)."""
        now = self.clock.now()
        key = f"{CHANNEL}:quota:{now:%Y-%m}"
        if alerts.exists(session, key):
            return
        notice = TEXT["quota"].format(code=exc.code)
        log.error("dingtalk: the organisation's monthly OpenAPI quota is spent (%s); sends wait and retry hourly",
                  exc.code)
        if self.metrics:
            self.metrics.platform_quota_exceeded.labels(CHANNEL).inc()
        session.add(Alert(kind="platform_quota", level="warning", dedupe_key=key, message=notice, created_at=now))
        for admin in users.admins(session):
            cards.queue(session, Reply.say(notice, to_user=admin.id), dedupe_key=f"{key}:admin:{admin.id}", now=now)

    def _deliver(self, session: Session, message: Outbox, address: str | None) -> str | None:
        if message.kind == "card_update":
            return self._update_card(message.payload, address)
        if message.kind == dingtalk_report.KIND:  # a 日志 filed for the rep, not a robot message
            return dingtalk_report.file_report(self.api, message.payload, address)
        if not address and not message.chat_id:
            raise DeliveryError(MESSAGES["no_address"], permanent=True)
        return ",".join(send_parts(session, message, self._steps(message, address)))[:200] or None

    def _steps(self, message: Outbox, address: str | None) -> list[Step]:
        payload = message.payload
        if message.kind == "text":
            return self._text_steps(message, address, payload.get("text", ""))
        if message.kind == "markdown":
            text = payload.get("text", "")
            return self._markdown_steps(message, address, markdown_title(text), text)
        if message.kind == "card" and not self.config.card_template_id:  # the content arrives, without buttons
            card = payload["card"]
            return self._markdown_steps(message, address, card["title"][:30], card_markdown(card))
        if message.kind == "card":
            params, rest = fit_card(card_params(payload["card"]))
            title = TEXT["continued_title"].format(title=params["title"][:26])
            return [partial(self._card, message, address, params)] + self._markdown_steps(message, address, title,
                                                                                          rest)
        if message.kind == "image":
            return [partial(self._image, message, address)] + self._text_steps(message, address,
                                                                               payload.get("text", ""))
        raise DeliveryError(MESSAGES["unknown_kind"].format(kind=message.kind), permanent=True)

    def _markdown_steps(self, message: Outbox, address: str | None, title: str, text: str) -> list[Step]:
        return [partial(self._robot, message, address, "sampleMarkdown", {"title": title, "text": piece})
                for piece in split_text(text, TEXT_LIMIT, char_prefix)]

    def _text_steps(self, message: Outbox, address: str | None, text: str) -> list[Step]:
        return [partial(self._robot, message, address, "sampleText", {"content": piece})
                for piece in split_text(text, TEXT_LIMIT, char_prefix)]

    def _robot(self, message: Outbox, address: str | None, key: str, param: dict[str, Any]) -> str:
        """To the group (`chat_id` is its openConversationId) or 1:1 to the member."""
        body = {"robotCode": self.config.robot_code, "msgKey": key,
                "msgParam": json.dumps(param, ensure_ascii=False)}
        if message.chat_id:
            return str(self.api.call("POST", "/v1.0/robot/groupMessages/send",
                                     json={**body, "openConversationId": message.chat_id})["processQueryKey"])
        answer = self.api.call("POST", "/v1.0/robot/oToMessages/batchSend", json={**body, "userIds": [address]})
        if address in (answer.get("invalidStaffIdList") or []):
            raise DeliveryError(MESSAGES["invalid_user"].format(users=address), permanent=True)
        if address in (answer.get("flowControlledStaffIdList") or []):
            raise DeliveryError(MESSAGES["flow_controlled"].format(users=address),
                                retry_after=FLOW_CONTROLLED_SECONDS)
        return str(answer["processQueryKey"])

    def _card(self, message: Outbox, address: str | None, params: dict[str, str]) -> str:
        check_fits(params)
        robot = self.config.robot_code
        if message.chat_id:
            space = {"openSpaceId": f"dtv1.card//IM_GROUP.{message.chat_id}",
                     "imGroupOpenSpaceModel": {"supportForward": False},
                     "imGroupOpenDeliverModel": {"robotCode": robot}}
        else:
            space = {"openSpaceId": f"dtv1.card//IM_ROBOT.{address}",
                     "imRobotOpenSpaceModel": {"supportForward": False},
                     "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT", "robotCode": robot}}
        out_track_id = message.payload["card_id"]
        answer = self.api.call("POST", "/v1.0/card/instances/createAndDeliver", json={
            "cardTemplateId": self.config.card_template_id, "outTrackId": out_track_id, "callbackType": "STREAM",
            "cardData": {"cardParamMap": params}, "userIdType": 1, **space,
        })
        failed = [r.get("errorMsg") or r.get("spaceId") for r in (answer.get("result") or {}).get("deliverResults", [])
                  if not r.get("success")]
        if failed:
            raise DeliveryError(MESSAGES["not_delivered"].format(errors="; ".join(map(str, failed))), permanent=True)
        return str(out_track_id)

    def _update_card(self, payload: dict[str, Any], clicker: str | None) -> str:
        """A handler's new card replaces every variable for everyone, and the clicker's private view too: the ACK
        emptied their buttons, and private data outranks the card's own, so a card that stays usable (a checklist
        ticked item by item) would otherwise show them no buttons. Content over 1 KB is cut (no follow-up)."""
        ref = payload.get("update_ref")
        if not ref or "card" not in payload:
            raise DeliveryError(MESSAGES["no_update_ref"], permanent=True)
        params = fit_card(card_params(payload["card"]), note=TEXT["cut"])[0]
        check_fits(params)
        mine = {"privateData": {clicker: {"cardParamMap": {key: params.get(key, "") for key in PRIVATE_KEYS}}}
                } if clicker else {}
        self.api.call("PUT", "/v1.0/card/instances", json={
            "outTrackId": ref, "userIdType": 1, "cardData": {"cardParamMap": params}, **mine,
            "cardUpdateOptions": {"updateCardDataByKey": False, "updatePrivateDataByKey": True},
        })
        return str(ref)

    def _image(self, message: Outbox, address: str | None) -> str:
        """Uploaded to DingTalk's media store, then sent as an image message (its caption is the next part)."""
        image = base64.b64decode(message.payload["image_b64"])
        name, mime = ("image.jpg", "image/jpeg") if image.startswith(b"\xff\xd8") else ("image.png", "image/png")
        media_id = self.api.oapi("/media/upload", data={"type": "image"}, files={"media": (name, image, mime)})["media_id"]
        return self._robot(message, address, "sampleImageMsg", {"photoURL": media_id})
