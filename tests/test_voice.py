"""语音速记 over both platforms: a voice message → 「识别为：…」 → 对 / 改一下 → the day's draft, nothing lost."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot import export
from bot.app import create_app
from bot.config import AsrConfig, load_settings
from bot.events import Event
from store import privacy
from store.models import Message, Touch
from tests.conftest import DATA, T0
from tests.conversation import seed_customer
from tests.fakes.dingtalk_gateway import FakeDingTalk
from tests.fakes.tencent_asr import FakeTencentAsr
from tests.fakes.wecom_server import FakeWeCom
from tests.speech import Speech, silence, spoken
from tests.test_channels_parity import PLATFORM_IDS, DingTalk, ShownCard, WeCom
from tests.wecom_helpers import sender_for, wecom_settings

VISIT = "今天拜访了华东医疗，王总说价格太贵，下周一前给他们发报价"
FIXED = "今天拜访了华东医疗，王总担心交付周期太长，周五前给他们发方案"
CUSTOMER = "华东医疗器械有限公司"


class VoiceWeCom(WeCom):
    def voice(self, user: str, speech: Speech) -> None:
        self.voice_media(user, self.fake.add_media(speech.amr, "voice.amr", "audio/amr"))

    def voice_media(self, user: str, media_id: str) -> None:
        self._post(self.sender.voice_xml(user, media_id))

    def last_title(self, user: str) -> str:
        """A card without buttons goes as markdown, its title in bold on the first line."""
        [*_, sent] = self.fake.sent_messages(touser=user, msgtype="markdown")
        return sent["markdown"]["content"].splitlines()[0].strip("*")

    def card_text(self, user: str) -> str:
        [*_, sent] = [c.json["template_card"] for c in self.fake.calls("message/send")
                      if c.ok and c.json["msgtype"] == "template_card" and c.json["touser"] == user]
        fields = [f"{f['keyname']}：{f['value']}" for f in sent.get("horizontal_content_list", [])]
        return "\n".join([sent["main_title"]["title"], sent.get("sub_title_text", ""), *fields])


class VoiceDingTalk(DingTalk):
    def voice(self, user: str, speech: Speech, recognition: str = VISIT) -> None:
        payload = self.fake.chatbot_audio(user, recognition, duration_ms=int(speech.seconds * 1000),
                                          content=speech.amr)
        self.fake.wait_for_ack(self.fake.deliver_chatbot(payload))

    def last_title(self, user: str) -> str:
        return self.cards(user)[-1].title

    def card_text(self, user: str) -> str:
        ref = self.cards(user)[-1].ref
        data = self.fake.cards[ref]["card_data"]
        return f"{data['title']}\n{data['content']}"


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    return spoken(VISIT, tmp_path_factory.mktemp("speech"))


@pytest.fixture(params=["wecom", "dingtalk"])
def channel(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def asr() -> Iterator[FakeTencentAsr]:
    with FakeTencentAsr(transcript=VISIT) as fake:
        yield fake


@pytest.fixture
def fake(channel: str) -> Iterator[FakeWeCom | FakeDingTalk]:
    with FakeWeCom() if channel == "wecom" else FakeDingTalk() as platform_fake:
        yield platform_fake


@pytest.fixture
def settings(request, db_url, channel, fake, asr):
    """Tencent ASR pointed at the fake, unless the test is marked `no_asr` (the default provider, none)."""
    if channel == "wecom":
        settings = wecom_settings(db_url, fake)
    else:
        settings = load_settings(environ={}, path=DATA / "config-test.yaml",
                                 overrides={"database": {"url": db_url}, "dingtalk": fake.liuhen_config()})
    if request.node.get_closest_marker("no_asr") is None:
        settings.asr = AsrConfig(**asr.liuhen_config())
    return settings


@pytest.fixture
def platform(runtime, channel, fake) -> Iterator[VoiceWeCom | VoiceDingTalk]:
    with Session(runtime.engine) as session:
        seed_customer(session, CUSTOMER, aliases=["华东医疗"], updated=T0)
    if channel == "wecom":
        with TestClient(create_app(runtime, start_workers=False)) as client:
            yield VoiceWeCom(fake, sender_for(fake), client, int(runtime.clock.now().timestamp()))
        return
    runtime.dingtalk.listen(runtime.inbox.ingest_many, runtime.wake)
    try:
        yield VoiceDingTalk(fake)
    finally:
        runtime.dingtalk.close()


def _voice_rows(runtime) -> list[Message]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(Message).where(Message.kind == "voice")).all())


def _shown(runtime, platform, user: str) -> ShownCard:
    runtime.work_once()
    card = platform.cards(user)[-1]
    assert card.labels == ("对", "改一下")
    return card


def test_a_voice_note_about_a_visit_becomes_a_draft_line(runtime, channel, platform, asr, speech):
    lilei = PLATFORM_IDS[channel]["lilei"]
    platform.voice(lilei, speech)
    card = _shown(runtime, platform, lilei)
    assert card.title == "🎙️ 识别为：" and VISIT in platform.card_text(lilei)
    [row] = _voice_rows(runtime)
    assert row.text is None  # not evidence until the rep says it is right
    platform.send(lilei, "日报速记")
    runtime.work_once()
    assert platform.last_title(lilei) == "📭 今天还没有记录"

    platform.click(lilei, card, card.token("对"))
    runtime.work_once()
    platform.send(lilei, "日报速记")
    runtime.work_once()
    draft = platform.card_text(lilei)
    assert draft.startswith("📝 日报草稿")
    assert CUSTOMER in draft and "价格" in draft and "给他们发报价" in draft

    [row] = _voice_rows(runtime)
    event = Event.from_dict(row.event)
    assert row.text == VISIT and event.payload["voice"]["status"] == "ok" and event.media
    with Session(runtime.engine) as session:
        [touch] = session.exec(select(Touch).where(Touch.source_msg_id == row.msg_id)).all()
    assert touch.customer_id is not None
    if channel == "wecom":  # the AMR was fetched, converted and sent to the provider whole
        [received] = asr.received
        assert received.error is None and (received.sample_rate, received.channels) == (16000, 1)
        assert received.seconds == pytest.approx(speech.seconds, abs=0.05)
    else:  # DingTalk's own recognition: no provider call
        assert asr.received == []


def _answer(runtime, platform, user: str, speech: Speech, label: str) -> None:
    """A voice message, and a click on one of its transcript card's buttons."""
    platform.voice(user, speech)
    card = _shown(runtime, platform, user)
    platform.click(user, card, card.token(label))
    runtime.work_once()


def _confirm_a_voice_note(runtime, platform, user: str, speech: Speech) -> Message:
    _answer(runtime, platform, user, speech, "对")
    [row] = _voice_rows(runtime)
    return row


def test_the_transcript_is_exported_with_its_audio_and_purged_with_the_customer(runtime, channel, platform,
                                                                                 speech):
    row = _confirm_a_voice_note(runtime, platform, PLATFORM_IDS[channel]["lilei"], speech)
    media = Event.from_dict(row.event).media
    window = export.Window(runtime.clock.tz, None, None)
    with Session(runtime.engine) as session:
        [touch] = export.run(session, "touches", window, runtime.rules, actor="审计", at=runtime.clock.now())
        assert (touch["customer"], touch["transcript"], touch["audio"]) == (CUSTOMER, VISIT, media)
        customer = privacy.find_customer(session, CUSTOMER)
        summary = privacy.purge_customer(session, customer, actor="admin", at=runtime.clock.now())
        session.commit()
    assert summary.voice == 1
    [row] = _voice_rows(runtime)
    assert row.text is None and row.event == {"purged": True}
    with Session(runtime.engine) as session:
        [touch] = export.run(session, "touches", window, runtime.rules, actor="审计", at=runtime.clock.now())
    assert touch["transcript"] is None and touch["audio"] is None


def test_an_unconfirmed_transcript_naming_the_customer_is_purged_too(runtime, channel, platform, speech):
    platform.voice(PLATFORM_IDS[channel]["lilei"], speech)
    runtime.work_once()
    with Session(runtime.engine) as session:
        customer = privacy.find_customer(session, CUSTOMER)
        assert privacy.purge_customer(session, customer, actor="admin", at=runtime.clock.now()).voice == 1
        session.commit()
    [row] = _voice_rows(runtime)
    assert VISIT not in json.dumps(row.event, ensure_ascii=False)


def test_retention_forgets_unconfirmed_voice_with_its_audio(runtime, channel, platform, asr, speech):
    asr.fail_with("InternalError", "内部错误")  # the audio is kept on the row, nothing confirmed
    platform.voice(PLATFORM_IDS[channel]["lilei"], speech, **({} if channel == "wecom" else {"recognition": ""}))
    runtime.work_once()
    later = runtime.clock.now() + timedelta(days=1)
    with Session(runtime.engine) as session:
        assert privacy.forget_old_messages(session, before=later) == 1
        assert privacy.forget_old_messages(session, before=later) == 0  # once
        session.commit()
    [row] = _voice_rows(runtime)
    assert row.event == {"retained": False} and row.text is None


def test_a_lead_said_aloud_is_asked_for_its_missing_fields_once_confirmed(runtime, channel, platform, asr, speech):
    lead = "新线索 长江口腔连锁 医疗 预算800万 决策人王总CTO 需求阶段:方案评估"
    asr.transcript = lead
    lilei = PLATFORM_IDS[channel]["lilei"]
    if channel == "wecom":
        platform.voice(lilei, speech)
    else:
        platform.voice(lilei, speech, recognition=lead)
    card = _shown(runtime, platform, lilei)
    platform.click(lilei, card, card.token("对"))
    runtime.work_once()
    assert platform.cards(lilei)[-1].title == "新线索 · 医院等级"


def test_a_provider_outage_keeps_the_audio_and_tells_the_rep(runtime, channel, platform, asr, speech):
    lilei = PLATFORM_IDS[channel]["lilei"]
    asr.fail_with("InternalError", "内部错误")
    if channel == "wecom":
        platform.voice(lilei, speech)
    else:  # DingTalk's side of an outage: the message comes without a recognition
        platform.voice(lilei, speech, recognition="")
    runtime.work_once()
    [told] = platform.texts(lilei)
    assert "语音已保存" in told and platform.cards(lilei) == []
    [row] = _voice_rows(runtime)
    event = Event.from_dict(row.event)
    assert row.text is None and event.media and event.payload["voice"]["status"] in ("failed", "empty")
    if channel == "wecom":
        assert base64.b64decode(event.payload["voice"]["audio_b64"]) == speech.amr
        assert "InternalError" in event.payload["voice"]["error"]
    with Session(runtime.engine) as session:
        assert session.exec(select(Touch)).all() == []


def test_a_correction_replaces_the_text(runtime, channel, platform, speech):
    lilei = PLATFORM_IDS[channel]["lilei"]
    _answer(runtime, platform, lilei, speech, "改一下")
    assert platform.texts(lilei) == ["请直接发送正确的文字，我会用它替换识别结果。"]
    platform.send(lilei, FIXED)
    runtime.work_once()
    platform.send(lilei, "日报速记")
    runtime.work_once()
    draft = platform.card_text(lilei)
    assert "给他们发方案" in draft and "给他们发报价" not in draft and "价格" not in draft
    assert draft.count("给他们发方案") == 1  # the correction is read once, on its voice row

    [row] = _voice_rows(runtime)
    outcome = Event.from_dict(row.event).payload["voice"]
    assert row.text == FIXED and outcome["transcript"] == FIXED
    assert outcome["recognized"] == VISIT and outcome["corrected"] is True


def test_cancelling_the_correction_keeps_the_recognition_unconfirmed(runtime, channel, platform, speech):
    lilei = PLATFORM_IDS[channel]["lilei"]
    _answer(runtime, platform, lilei, speech, "改一下")
    platform.send(lilei, "取消")
    runtime.work_once()
    [row] = _voice_rows(runtime)
    assert row.text is None and Event.from_dict(row.event).payload["voice"]["transcript"] == VISIT


@pytest.mark.parametrize("channel", ["wecom"])
def test_voice_over_the_providers_limit_is_refused_and_kept(runtime, channel, platform, asr):
    long = silence(61)
    platform.voice("lilei", long)
    runtime.work_once()
    [told] = platform.texts("lilei")
    assert "61 秒" in told and "60 秒" in told and "分段" in told
    assert asr.received == []  # never sent: the provider would refuse it
    [row] = _voice_rows(runtime)
    voice = Event.from_dict(row.event).payload["voice"]
    assert voice["status"] == "too_long" and base64.b64decode(voice["audio_b64"]) == long.amr


@pytest.mark.parametrize("channel", ["wecom"])
def test_an_expired_media_id_is_a_failure_told_with_the_reference_kept(runtime, channel, platform, fake, asr):
    platform.voice_media("lilei", "3-no-such-media")
    runtime.work_once()
    [told] = platform.texts("lilei")
    assert "语音已保存" in told
    [row] = _voice_rows(runtime)
    event = Event.from_dict(row.event)
    assert event.media == "3-no-such-media" and "40007" in event.payload["voice"]["error"]
    assert asr.received == []
    assert all(c.query.get("access_token") for c in fake.calls("media/get"))


@pytest.mark.parametrize("channel", ["wecom"])
def test_an_expired_access_token_is_replaced_and_the_voice_still_fetched(runtime, channel, platform, fake, speech):
    platform.send("lilei", "帮助")
    runtime.work_once()  # the answer was sent with a token, which then expires
    fake.expire_tokens()
    platform.voice("lilei", speech)
    card = _shown(runtime, platform, "lilei")
    assert card.title == "🎙️ 识别为："
    first, second = fake.calls("media/get")
    assert first.response["errcode"] == 42001 and second.response == speech.amr


@pytest.mark.parametrize("channel", ["wecom"])
def test_a_voice_the_provider_hears_no_words_in_is_told_and_kept(runtime, channel, platform, asr, speech):
    asr.transcript = ""
    platform.voice("lilei", speech)
    runtime.work_once()
    assert platform.texts("lilei") == ["没有从这条语音里识别出文字，语音已保存。请靠近话筒再说一次，或直接打字。"]
    [row] = _voice_rows(runtime)
    assert base64.b64decode(Event.from_dict(row.event).payload["voice"]["audio_b64"]) == speech.amr


@pytest.mark.no_asr
@pytest.mark.parametrize("channel", ["wecom"])
def test_with_provider_none_the_rep_is_told_voice_is_not_transcribed(runtime, channel, platform, fake, speech):
    platform.voice("lilei", speech)
    runtime.work_once()
    assert platform.texts("lilei") == ["语音未开启转文字，这条语音已保存。请直接打字告诉我要点（客户、进展、待办）。"]
    assert fake.calls("media/get") == []
    [row] = _voice_rows(runtime)
    assert Event.from_dict(row.event).media and row.text is None


def test_the_voice_cards_json_has_no_audio(runtime, channel, platform, speech):
    """The card carries the words only: the audio stays on the row, never in a message."""
    lilei = PLATFORM_IDS[channel]["lilei"]
    platform.voice(lilei, speech)
    _shown(runtime, platform, lilei)
    assert base64.b64encode(speech.amr).decode()[:40] not in json.dumps(platform.card_text(lilei))

