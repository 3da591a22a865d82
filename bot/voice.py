"""Voice messages between the inbox and the handlers: the transcript is made before a row is processed (network
calls outside its transaction) and, once the rep confirms or corrects it, sent on as typed chat."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.asr import AsrError, Provider
from bot.audio import AudioError, to_wav
from bot.channels.base import DeliveryError
from bot.events import Event
from handlers.voice import CONFIRM, FIX_FLOW
from store import dialogs
from store.db import session_scope
from store.models import Dialog, Message

log = logging.getLogger(__name__)

Fetch = Callable[[str], bytes]  # a platform's media reference → the audio file
RECOGNISING = frozenset({"dingtalk"})  # platforms that send their own recognition with the voice message


class VoiceReader:
    """Turns a voice event into its outcome: `ok` with a transcript, or `off`, `failed`, `too_long`, `empty`.

    A platform's own recognition (DingTalk's `recognition`) is used as it is. Audio fetched but not transcribed
    is kept on the row (base64), since WeCom forgets its media after three days.
    """

    def __init__(self, provider: Provider, fetchers: Mapping[str, Fetch]) -> None:
        self.provider = provider
        self.fetchers = dict(fetchers)

    def prepare(self, engine: Engine, message_id: int) -> None:
        """Stores the outcome on an unprocessed voice row that has none yet."""
        with session_scope(engine) as session:
            row = session.get(Message, message_id)
            if row is None or row.kind != "voice" or row.processed_at is not None \
                    or "voice" in row.event.get("payload", {}):
                return
            event = Event.from_dict(row.event)
        outcome = self.read(event)
        with session_scope(engine) as session:
            row = session.get(Message, message_id)
            if row is not None:
                _set_outcome(row, outcome)
                session.add(row)

    def read(self, event: Event) -> dict[str, Any]:
        if event.text.strip():
            return {"status": "ok", "transcript": event.text.strip(), "provider": f"{event.channel}:recognition"}
        if event.channel in RECOGNISING:
            return {"status": "empty", "provider": f"{event.channel}:recognition"}
        provider = self.provider.name
        fetch = self.fetchers.get(event.channel)
        if provider == "none" or fetch is None or not event.media:
            return {"status": "off", "provider": provider}
        try:
            audio = fetch(event.media)
        except DeliveryError as exc:
            log.warning("voice %s: fetching the audio failed: %s", event.msg_id, exc)
            return {"status": "failed", "provider": provider, "error": str(exc)}
        kept = {"provider": provider, "audio_b64": base64.b64encode(audio).decode("ascii")}
        try:
            wav = to_wav(audio)
            if wav.seconds > self.provider.max_seconds:
                return {**kept, "status": "too_long", "seconds": wav.seconds, "limit": self.provider.max_seconds}
            transcript = self.provider.transcribe(wav)
        except (AudioError, AsrError) as exc:
            log.warning("voice %s: not transcribed: %s", event.msg_id, exc)
            return {**kept, "status": "failed", "error": str(exc)}
        if not transcript:
            return {**kept, "status": "empty", "seconds": wav.seconds}
        return {"status": "ok", "transcript": transcript, "provider": provider, "seconds": wav.seconds}


def _set_outcome(row: Message, outcome: dict[str, Any]) -> None:
    """A new dict, so the JSON column is seen as changed."""
    row.event = {**row.event, "payload": {**row.event.get("payload", {}), "voice": outcome}}


def voice_row(session: Session, channel: str, msg_id: str) -> Message | None:
    return session.exec(select(Message).where(Message.channel == channel, Message.msg_id == msg_id,
                                              Message.kind == "voice")).first()


def confirmed(session: Session, event: Event, action: str | None, data: Mapping[str, Any], *,
              now: datetime) -> Event | None:
    """After 对: the voice message as the typed message it stands for, its transcript now the row's text."""
    if action != CONFIRM:
        return None
    row = voice_row(session, event.channel, str(data.get("msg_id")))
    outcome = row.event.get("payload", {}).get("voice") if row else None
    if row is None or not outcome or outcome.get("status") != "ok":
        return None
    return _as_typed(row, outcome["transcript"], {**outcome, "confirmed_at": now.isoformat()})


def corrected(session: Session, event: Event, dialog: Dialog | None, *, now: datetime) -> Event | None:
    """The rep's typed correction after 改一下: it replaces the transcript (the recognition stays, as evidence),
    and the voice message goes on as typed chat; the correction itself is marked so no draft reads it twice."""
    if dialog is None or dialog.flow != FIX_FLOW or event.kind != "text" or event.chat or not event.text.strip():
        return None
    dialogs.clear(session, dialog.user_id)
    row = voice_row(session, str(dialog.data.get("channel")), str(dialog.data.get("msg_id")))
    if row is None:
        return None
    typed = session.exec(select(Message).where(Message.channel == event.channel,
                                               Message.msg_id == event.msg_id)).first()
    if typed is not None:
        typed.event = {**typed.event, "payload": {**typed.event.get("payload", {}), "corrects_voice": row.msg_id}}
        session.add(typed)
    outcome = row.event.get("payload", {}).get("voice") or {}
    text = event.text.strip()
    return _as_typed(row, text, {**outcome, "status": "ok", "recognized": outcome.get("transcript"),
                                 "transcript": text, "corrected": True, "confirmed_at": now.isoformat()})


def _as_typed(row: Message, transcript: str, outcome: dict[str, Any]) -> Event:
    row.text = transcript
    _set_outcome(row, outcome)
    return replace(Event.from_dict(row.event), kind="text", text=transcript)
