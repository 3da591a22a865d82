"""Normalising a decrypted WeCom callback into the neutral `Event`; anything unforeseen becomes kind `other`."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from wechatpy.enterprise import events as wevents
from wechatpy.enterprise import messages as wmessages
from wechatpy.messages import BaseMessage

from bot.events import Event, stable_msg_id

CHANNEL = "wecom"
# Fields of a `change_contact` callback kept in the event's payload (WeCom doc 90970).
CONTACT_FIELDS = ("ChangeType", "UserID", "NewUserID", "Name", "Position", "Status", "MainDepartment", "Alias")
CONTACT_LISTS = ("Department", "IsLeaderInDept")


def _ints(value: Any) -> list[int]:
    return [int(part) for part in str(value or "").split(",") if part.strip().lstrip("-").isdigit()]


def _msg_id(data: dict[str, Any], xml: str) -> str:
    """MsgId when WeCom gives one; events have none, so a hash of what identifies them (same on redelivery)."""
    if data.get("MsgId"):
        return str(data["MsgId"])
    key = data.get("EventKey")
    if key is None:  # no EventKey (contact changes, unknown types): the whole plaintext identifies it
        key = hashlib.sha1(xml.encode("utf-8")).hexdigest()
    return stable_msg_id(data.get("FromUserName"), data.get("CreateTime"), data.get("Event") or data.get("MsgType"),
                         key)


def _message_fields(message: BaseMessage, data: dict[str, Any]) -> dict[str, Any]:
    if isinstance(message, wmessages.TextMessage):
        return {"kind": "text", "text": message.content or ""}
    if isinstance(message, wmessages.ImageMessage):
        return {"kind": "image", "media": message.media_id, "url": message.image}
    if isinstance(message, wmessages.VoiceMessage):
        return {"kind": "voice", "media": message.media_id, "text": message.recognition or "",
                "payload": {"format": message.format}}
    if isinstance(message, wmessages.VideoMessage | wmessages.ShortVideoMessage):
        return {"kind": "video", "media": message.media_id, "payload": {"thumb_media_id": message.thumb_media_id}}
    if isinstance(message, wmessages.LocationMessage):
        return {"kind": "location", "text": message.label or "",
                "payload": {"latitude": message.location_x, "longitude": message.location_y,
                            "scale": message.scale}}
    if isinstance(message, wmessages.LinkMessage):
        return {"kind": "link", "url": message.url, "text": message.title or "",
                "payload": {"description": message.description, "pic_url": message.pic_url}}
    msg_type = str(data.get("MsgType") or "").lower()
    if msg_type == "file":  # wechatpy has no class for it
        return {"kind": "file", "media": data.get("MediaId"), "filename": data.get("FileName")}
    return {"kind": "other", "payload": {"msg_type": msg_type}}


def _event_fields(message: BaseMessage, data: dict[str, Any]) -> dict[str, Any]:
    if isinstance(message, wevents.ClickEvent):
        return {"kind": "menu_click", "action": message.key or ""}
    if isinstance(message, wevents.ViewEvent):  # a menu button that opens a page: nothing to route
        return {"kind": "menu_click", "url": message.url}
    if isinstance(message, wevents.EnterAgentEvent):
        return {"kind": "enter"}
    event = str(data.get("Event") or "").lower()
    if event == "template_card_event":
        return {"kind": "card_action", "action": data.get("EventKey") or "", "card_ref": data.get("ResponseCode"),
                "payload": {"task_id": data.get("TaskId"), "card_type": data.get("CardType"),
                            "selected_items": data.get("SelectedItems")}}
    if event == "change_contact":
        payload = {key: data[key] for key in CONTACT_FIELDS if data.get(key) is not None}
        payload.update({key: _ints(data[key]) for key in CONTACT_LISTS if data.get(key) is not None})
        return {"kind": "contact_change", "payload": payload}
    return {"kind": "other", "payload": {"event": event}}


def to_event(message: BaseMessage, data: dict[str, Any], xml: str, *, received_at: datetime) -> Event:
    """`data` is the callback's fields (kept as `raw`); `xml` its plaintext, hashed for events without ids."""
    is_event = str(data.get("MsgType") or "").lower() == "event"
    fields = _event_fields(message, data) if is_event else _message_fields(message, data)
    return Event(channel=CHANNEL, msg_id=_msg_id(data, xml), sender=str(data.get("FromUserName") or ""),
                 received_at=received_at, raw=data, **fields)
