"""Normalising DingTalk Stream pushes (robot messages, card clicks, events) into the neutral `Event`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.events import Event, EventKind, stable_msg_id

CHANNEL = "dingtalk"
GROUP = "2"  # conversationType of a group chat; "1" is a 1:1 chat with the robot
CONTACT_CHANGES = {"user_add_org": "create_user", "user_modify_org": "update_user", "user_leave_org": "delete_user"}
TEXT = {"answered": "已处理"}
# A card callback's answer (the ACK's `response`): the clicker's private view loses its buttons and shows the
# status. Only variables marked 私有 in the template take private data (docs/dingtalk.md, step 4).
PRIVATE_KEYS = ("buttons", "status")  # the template's 私有 variables
CLICK_ANSWER = {
    "userPrivateData": {"cardParamMap": {"buttons": "[]", "status": TEXT["answered"]}},
    "cardUpdateOptions": {"updatePrivateDataByKey": True},
}
# msgtype → our kind, for the messages whose content sits in `content` with a downloadCode.
MEDIA_KINDS: dict[str, EventKind] = {"picture": "image", "file": "file", "audio": "voice", "video": "video"}


def from_chatbot(data: Any, message_id: str, *, received_at: datetime) -> Event:
    """One robot message, keyed by its msgId (else the frame's id). DingTalk never pushes a robot message
    again, so one we cannot read is still kept, as kind `other` with the frame, rather than lost."""
    message_id = message_id or stable_msg_id(CHANNEL, json.dumps(data, sort_keys=True, default=str))
    try:
        return _chatbot(data, message_id, received_at)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        return Event(channel=CHANNEL, msg_id=message_id, sender="", kind="other", received_at=received_at,
                     payload={"unreadable": f"{type(exc).__name__}: {exc}"}, raw={"data": data})


def _chatbot(data: dict[str, Any], message_id: str, received_at: datetime) -> Event:
    """In groups DingTalk strips the @mention but leaves a space, which goes too."""
    msgtype = str(data.get("msgtype") or "")
    group = str(data.get("conversationType")) == GROUP
    content = data.get("content") if isinstance(data.get("content"), dict) else {}
    fields: dict[str, Any]
    if msgtype == "text":
        fields = {"kind": "text", "text": str((data.get("text") or {}).get("content") or "").strip()}
    elif msgtype == "richText":
        parts = content.get("richText") or []
        fields = {
            "kind": "text",
            "text": "\n".join(str(p["text"]).strip() for p in parts if p.get("text")),
            "media": next((p.get("downloadCode") for p in parts if p.get("type") == "picture"), None),
        }
    elif msgtype in MEDIA_KINDS:
        fields = {
            "kind": MEDIA_KINDS[msgtype],
            "media": content.get("downloadCode") or content.get("pictureDownloadCode"),
            "filename": content.get("fileName"),
            "text": str(content.get("recognition") or ""),
        }
    else:
        fields = {"kind": "other"}
    payload = {
        "msgtype": msgtype,
        "conversation_id": data.get("conversationId"),
        "conversation_type": data.get("conversationType"),
        "session_webhook": data.get("sessionWebhook"),
        "session_webhook_expires_ms": data.get("sessionWebhookExpiredTime"),
        "sender_nick": data.get("senderNick"),
    }
    if msgtype == "audio":  # DingTalk's own recognition is the text; the audio stays behind its downloadCode
        payload["duration_ms"] = content.get("duration")
    return Event(
        channel=CHANNEL, msg_id=str(data.get("msgId") or message_id), sender=str(data.get("senderStaffId") or ""),
        received_at=received_at, chat=data.get("conversationId") if group else None, payload=payload, raw=data,
        **fields,
    )


def from_card_callback(data: dict[str, Any], message_id: str, *, received_at: datetime) -> Event:
    """A button click on one of our cards: its params carry the opaque token; the reply goes to the clicker."""
    try:
        private = json.loads(data.get("content") or data.get("value") or "{}").get("cardPrivateData") or {}
    except (TypeError, ValueError, AttributeError):
        private = {}
    params = private.get("params") or {}
    return Event(
        channel=CHANNEL, msg_id=message_id, sender=str(data.get("userId") or ""), kind="card_action",
        received_at=received_at, action=str(params.get("token") or ""), card_ref=data.get("outTrackId"),
        payload={"action_ids": private.get("actionIds") or [], "space_id": data.get("spaceId")}, raw=data,
    )


def from_event(event_type: str, event_id: str, corp_id: str, data: dict[str, Any], *,
               received_at: datetime) -> list[Event]:
    """Contact changes, one Event per member named; anything else is kept as kind `other`."""
    change = CONTACT_CHANGES.get(event_type)
    if change is None:
        return [Event(channel=CHANNEL, msg_id=event_id, sender=corp_id, kind="other", received_at=received_at,
                      payload={"event_type": event_type}, raw=data)]
    user_ids = [str(u) for u in data.get("userId") or []]
    return [
        Event(
            channel=CHANNEL, msg_id=event_id if len(user_ids) == 1 else f"{event_id}:{user_id}", sender=user_id,
            kind="contact_change", received_at=received_at,
            payload={"change": change, "user_id": user_id, "name": None, "event_type": event_type}, raw=data,
        )
        for user_id in user_ids
    ]
