"""Bad input at the platform edges, through the real app, on SQLite and PostgreSQL.

WeCom: callbacks built and encrypted apart from wechatpy (tests/fakes/wecom_server.py and the raw AES below),
posted to the FastAPI app; what tests/test_wecom_callback.py already covers (bad signature, ±601 s replay,
2 MiB body, outer billion laughs, inner XXE, short garbage ciphertext, malformed outer XML) is not repeated.
A refusal is a 4xx with nothing stored; valid input is stored exactly and answered.
DingTalk: frames pushed by the fake gateway to the real dingtalk-stream SDK: a bad frame is stored or refused
(no ACK, a logged reason), and the frames after it still work.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.app import create_app
from bot.channels.dingtalk_stream import TOPIC_CHATBOT
from bot.config import load_settings
from bot.runtime import Runtime
from store.models import Message, Outbox
from tests.conftest import DATA
from tests.fakes.dingtalk_gateway import FakeDingTalk
from tests.fakes.wecom_server import FakeWeCom, WeComCallbackSender
from tests.reliability.test_text_property import replies_to
from tests.wecom_helpers import (  # noqa: F401 (fixtures)
    AES_KEY,
    URL,
    fake,
    inbox,
    outbox,
    sender,
    settings,
    signed,
    wecom_settings,
)

LILEI = "0123"  # 李雷's DingTalk id in tests/data/org.yaml
BOMB_DTD = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">' + "".join(
    f'<!ENTITY {chr(98 + n)} "{f"&{chr(97 + n)};" * 10}">' for n in range(8)) + "]>"
XXE_DTD = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
LONG_NOTE = "今天拜访华东医疗，王总说价格高，下周三安排演示。"
# Text a rep may really send; stored as sent except surrounding whitespace, which both channels trim (DingTalk
# by design, WeCom in wechatpy's XML parsing), as router and handlers would anyway.
AWKWARD_TEXTS = {
    "surrounding whitespace": "  前后 \n 空格\t ",
    "20000 chars": (LONG_NOTE * (20_000 // len(LONG_NOTE) + 1))[:20_000],
    "emoji only": "😀🔥👍🏻👨‍👩‍👧‍👦🇨🇳",
    "sql-like": "'; DROP TABLE message;--",
    "mixed scripts": "华东医疗 Hello مرحبا שלום Привет こんにちは 안녕하세요 ½∑ 𠀀𪚥",
    "xml specials": "<xml>]]>&amp;</xml> & < > \" '",
    "bidi and zero-width": "\u202e反转\u200b零宽\u200d连接\ufeff",
    "command, long tail": "帮助 " + "很长的参数" * 1000,
}


def counts(engine: Engine) -> tuple[int, int]:
    """Rows in the inbox and the outbox."""
    with Session(engine) as session:
        return (session.exec(select(func.count()).select_from(Message)).one(),
                session.exec(select(func.count()).select_from(Outbox)).one())


def assert_answered(runtime: Runtime, n: int) -> None:
    """The `n` stored messages are processed without error, and each one's reply was sent."""
    runtime.work_once()
    rows = inbox(runtime.engine)
    assert len(rows) == n
    for row in rows:
        assert (row.processed_at is not None, row.last_error) == (True, None), row.text[:40]
        replies = replies_to(runtime.engine, row.id)
        assert replies and {r.status for r in replies} == {"sent"}, (row.text[:40], replies)


# -- WeCom: raw AES, to build what the callback sender never would ----------------------------------------

def seal(plain: bytes) -> str:
    """AES-256-CBC as WeCom uses it (key from EncodingAESKey, IV = its first 16 bytes), no padding added."""
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def framed(xml: bytes, corp_id: str, *, length: int | None = None) -> bytes:
    """16 random bytes, the 4-byte big-endian length, the XML, the receiveid: WeCom's plaintext before padding."""
    return os.urandom(16) + struct.pack(">I", len(xml) if length is None else length) + xml + corp_id.encode()


def pad_length(data: bytes) -> int:
    return 32 - len(data) % 32


def padded(data: bytes, last: int | None = None) -> bytes:
    """PKCS#7 to 32 bytes; `last` overrides the final pad byte (what the decrypter reads as the length)."""
    n = pad_length(data)
    return data + bytes([n]) * (n - 1) + bytes([n if last is None else last])


def envelope(sender: WeComCallbackSender, timestamp: int, encrypted: str, nonce: str = "1372623149"
             ) -> tuple[dict[str, str], bytes]:
    """A signed POST whose Encrypt is `encrypted`, whatever it holds."""
    params = {"msg_signature": sender.signature(str(timestamp), nonce, encrypted), "timestamp": str(timestamp),
              "nonce": nonce}
    body = f"<xml><ToUserName><![CDATA[{sender.corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
    return params, (body + f"<AgentID>{sender.agent_id}</AgentID></xml>").encode()


def inner_text_xml(sender: WeComCallbackSender, content: bytes) -> bytes:
    """A text callback whose Content is `content`, raw bytes (so not necessarily UTF-8)."""
    head, tail = sender.text_xml("lilei", "\x00MARK\x00").encode().split(b"\x00MARK\x00")
    return head + content + tail


class TestWeComCallback:
    @pytest.fixture
    def client(self, runtime) -> Iterator[TestClient]:
        with TestClient(create_app(runtime, start_workers=False)) as client:
            yield client

    def assert_refused(self, client: TestClient, runtime: Runtime, cases: dict[str, tuple[str, dict, bytes]]) -> None:
        """Each case (method, query, body) gets a 4xx and leaves the inbox and outbox as they were."""
        for label, (method, params, body) in cases.items():
            before = counts(runtime.engine)
            answer = client.request(method, URL, params=params, content=body)
            assert 400 <= answer.status_code < 500, (label, answer.status_code, answer.text)
            assert counts(runtime.engine) == before, label

    def test_undecryptable_ciphertexts_are_refused(self, client, runtime, sender, fake):
        now = int(runtime.clock.now().timestamp())
        xml = sender.text_xml("lilei", "帮助 补齐填充").encode()
        data = framed(xml, fake.corp_id)
        n = pad_length(data)
        assert 2 <= n <= 31, n  # room for "one more" and "one less"
        ciphertexts = {
            "pad byte 0": seal(padded(data, last=0)),
            "pad byte 33": seal(padded(data, last=33)),
            "pad byte 255": seal(padded(data, last=255)),
            "pad byte one more than padded": seal(padded(data, last=n + 1)),
            "pad byte one less than padded": seal(padded(data, last=n - 1)),
            "only padding, no plaintext": seal(bytes([32]) * 32),
            "another corp's receiveid": seal(padded(framed(xml, "wwsomeoneelse0001"))),
            "length field past the end": seal(padded(framed(xml, fake.corp_id, length=10**6))),
            "block-aligned noise": base64.b64encode(bytes(range(64))).decode(),
            "cut inside a block": seal(padded(data))[:-8],
            "not base64": "!!!不是base64!!!",
        }
        self.assert_refused(client, runtime, {
            label: ("POST", *envelope(sender, now, encrypted)) for label, encrypted in ciphertexts.items()})
        assert inbox(runtime.engine) == []

    def test_decrypted_plaintext_that_is_not_a_callback_is_refused(self, client, runtime, sender, fake):
        now = int(runtime.clock.now().timestamp())
        plaintexts = {
            "invalid utf-8 byte": inner_text_xml(sender, b"\xff\xfe"),
            "overlong utf-8": inner_text_xml(sender, b"\xc0\xaf"),
            "utf-8 encoded surrogate": inner_text_xml(sender, b"\xed\xa0\x80"),
            "truncated utf-8 sequence": inner_text_xml(sender, "华".encode()[:2]),
            "lone continuation byte": inner_text_xml(sender, b"ab\x80cd"),
            "control character xml forbids": inner_text_xml(sender, b"\x01\x08"),
            "not xml": b"hello, WeCom",
            "xml cut short": sender.text_xml("lilei", "帮助").encode()[:-20],
            "root other than xml": b"<root><MsgType>text</MsgType></root>",
            "billion laughs inside": (BOMB_DTD + "<xml><Content>&i;</Content></xml>").encode(),
        }
        self.assert_refused(client, runtime, {
            label: ("POST", *envelope(sender, now, seal(padded(framed(xml, fake.corp_id)))))
            for label, xml in plaintexts.items()})
        assert inbox(runtime.engine) == []

    def test_tampered_envelopes_are_refused(self, client, runtime, sender):
        params, body = signed(sender, runtime.clock, sender.text_xml("lilei", "帮助"))
        stamp = "not-a-time"
        encrypted = sender.encrypt(sender.text_xml("lilei", "帮助"))
        utf16_bomb = (BOMB_DTD + "<xml><Encrypt>&i;</Encrypt></xml>").encode("utf-16")
        utf16_xxe = (XXE_DTD + "<xml><Encrypt>&e;</Encrypt></xml>").encode("utf-16")
        self.assert_refused(client, runtime, {
            "nonce changed after signing": ("POST", {**params, "nonce": params["nonce"] + "1"}, body),
            "no query at all": ("POST", {}, body),
            "timestamp not a number": ("POST", envelope(sender, 0, encrypted)[0] | {
                "timestamp": stamp, "msg_signature": sender.signature(stamp, "1372623149", encrypted)}, body),
            "empty Encrypt": ("POST", params, b"<xml><Encrypt></Encrypt></xml>"),
            "billion laughs in UTF-16": ("POST", params, utf16_bomb),
            "external entity in UTF-16": ("POST", params, utf16_xxe),
        })

    def test_url_verification_refuses_what_it_cannot_decrypt(self, client, runtime, sender):
        now = str(int(runtime.clock.now().timestamp()))

        def verify(echostr: str) -> tuple[str, dict, bytes]:
            return "GET", {"msg_signature": sender.signature(now, "42", echostr), "timestamp": now, "nonce": "42",
                           "echostr": echostr}, b""

        self.assert_refused(client, runtime, {
            "empty echostr": verify(""),
            "noise echostr": verify(base64.b64encode(bytes(range(32))).decode()),
            "echostr not utf-8": verify(seal(padded(framed(b"\xff\xfe", sender.corp_id)))),
            "echostr with pad byte 0": verify(seal(padded(framed(b"1616140317555161061", sender.corp_id), last=0))),
        })

    def test_every_padding_length_is_accepted_stored_exactly_and_answered(self, client, runtime, sender, fake):
        """1..32 pad bytes, as WeCom's own sender pads (tests/fakes: `WeComCallbackSender.encrypt`)."""
        seen: set[int] = set()
        for extra in range(32):
            text = "拜访记录" + "x" * extra
            xml = sender.text_xml("lilei", text)
            seen.add(pad_length(framed(xml.encode(), fake.corp_id)))
            params, body = signed(sender, runtime.clock, xml)
            answer = client.post(URL, params=params, content=body)
            assert (answer.status_code, answer.text) == (200, ""), extra
            assert inbox(runtime.engine)[-1].text == text
        assert seen == set(range(1, 33))
        runtime.work_once()
        assert all(replies_to(runtime.engine, row.id) for row in inbox(runtime.engine))
        assert fake.sent_messages(touser="lilei")  # the rest wait for WeCom's per-member rate limit

    def test_pad_bytes_are_read_as_wecoms_own_decrypter_reads_them(self, client, runtime, sender, fake):
        """Only the last pad byte counts (as in WeCom's sample WXBizMsgCrypt): filler bytes that differ are
        accepted. Safe, because the signature is checked before anything is decrypted."""
        xml = sender.text_xml("lilei", "帮助 填充")
        data = framed(xml.encode(), fake.corp_id)
        n = pad_length(data)
        encrypted = seal(data + bytes(range(1, n)) + bytes([n]))
        params, body = envelope(sender, int(runtime.clock.now().timestamp()), encrypted)
        answer = client.post(URL, params=params, content=body)
        assert (answer.status_code, answer.text) == (200, "")
        assert [row.text for row in inbox(runtime.engine)] == ["帮助 填充"]

    def test_awkward_texts_are_stored_exactly_and_answered(self, client, runtime, sender):
        for label, text in AWKWARD_TEXTS.items():
            params, body = signed(sender, runtime.clock, sender.text_xml("lilei", text))
            answer = client.post(URL, params=params, content=body)
            assert (answer.status_code, answer.text) == (200, ""), label
            assert (inbox(runtime.engine)[-1].kind, inbox(runtime.engine)[-1].text) == ("text", text.strip()), label
        assert_answered(runtime, len(AWKWARD_TEXTS))

    def test_the_official_vector_is_a_replay_today_and_answered_at_its_time(self, db_url, engine, clock):
        """WeCom's published sample (tests/data/wecom_official_vectors.json), sent by an unregistered member."""
        vectors = json.loads((DATA / "wecom_official_vectors.json").read_text())
        message = vectors["message"]
        params = {k: message[k] for k in ("msg_signature", "timestamp", "nonce")}
        with FakeWeCom(corp_id=vectors["corp_id"]) as fake:
            settings = wecom_settings(db_url, fake, token=vectors["token"], corp_id=vectors["corp_id"],
                                      encoding_aes_key=vectors["encoding_aes_key"])
            runtime = Runtime(settings, clock=clock, engine=engine)
            with TestClient(create_app(runtime, start_workers=False)) as client:
                assert client.post(URL, params=params, content=message["body"]).status_code == 403  # years late
                assert counts(engine) == (0, 0)
                clock.set(datetime.fromtimestamp(int(message["timestamp"]), UTC))
                assert client.post(URL, params=params, content=message["body"]).text == ""
                assert client.post(URL, params={**params, "nonce": "1"}, content=message["body"]).status_code == 403
            runtime.work_once()
        [row] = inbox(engine)
        assert (row.sender, row.text, row.processed_at is not None) == ("mycreate", "hello", True)
        [reply] = [r for r in outbox(engine) if r.platform_user == "mycreate"]  # the fake has no such member
        assert "注册用户" in reply.payload["text"]


class TestDingTalkFrames:
    @pytest.fixture
    def fake(self) -> Iterator[FakeDingTalk]:
        with FakeDingTalk() as fake:
            yield fake

    @pytest.fixture
    def settings(self, db_url, fake):
        return load_settings(environ={}, path=DATA / "config-test.yaml",
                             overrides={"database": {"url": db_url}, "dingtalk": fake.liuhen_config()})

    @pytest.fixture
    def stream(self, runtime, fake):
        runtime.dingtalk.listen(runtime.inbox.ingest_many, runtime.wake)
        fake.wait_for_connection()
        yield
        runtime.dingtalk.close()

    def then_a_good_frame(self, fake: FakeDingTalk, runtime: Runtime, n: int) -> None:
        """A normal message after a bad one: ACKed and stored (one row more)."""
        rows = counts(runtime.engine)[0]
        fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, f"第{n}条：华东医疗")))
        assert counts(runtime.engine)[0] == rows + 1

    def test_a_frame_that_is_not_json_is_refused_and_later_frames_work(self, runtime, fake, stream, caplog):
        """The SDK parses `data` before our handler runs: nothing to store, so no ACK, and a reason logged."""
        refused = fake.deliver_raw(TOPIC_CHATBOT, '{"msgtype": "text", "text": {')
        self.then_a_good_frame(fake, runtime, 0)
        assert refused not in fake.acks
        assert [r for r in caplog.records if r.getMessage().startswith("error processing message")]
        assert counts(runtime.engine)[0] == 1

    def test_unreadable_frames_are_kept_as_other_unanswered_and_later_frames_work(self, runtime, fake, stream):
        """DingTalk never pushes a robot message again: a frame we cannot read is stored with its data, not lost."""
        text_frame = fake.chatbot_text(LILEI, "帮助")
        bad = {
            "json array": [1, 2, 3],
            "json string": "帮助",
            "text is a string": {**text_frame, "text": "帮助"},
            "richText parts are strings": {**text_frame, "msgtype": "richText",
                                           "content": {"richText": ["合同", "见附件"]}},
        }
        for n, data in enumerate(bad.values()):
            fake.wait_for_ack(fake.deliver_raw(TOPIC_CHATBOT, json.dumps(data)))
            self.then_a_good_frame(fake, runtime, n)
        runtime.work_once()
        kept = [m for m in inbox(runtime.engine) if m.kind == "other"]
        assert [m.event["raw"]["data"] for m in kept] == list(bad.values())
        assert all(m.processed_at is not None and m.last_error is None for m in kept)
        assert len(fake.robot_messages(LILEI)) == len(bad)  # every good frame answered, no bad one

    def test_frames_missing_fields_are_stored_and_processed(self, runtime, fake, stream):
        def without(key: str, **opts: str) -> dict:
            return {k: v for k, v in fake.chatbot_text(LILEI, "帮助", **opts).items() if k != key}

        frames = {
            "empty object": {},
            "no sender (external member in a group)": without("senderStaffId", conversation_type="2"),
            "no text object": without("text"),
            "unknown msgtype": {**fake.chatbot_text(LILEI, "帮助"), "msgtype": "interactiveCard"},
        }
        for label, data in frames.items():
            rows = counts(runtime.engine)[0]
            fake.wait_for_ack(fake.deliver_raw(TOPIC_CHATBOT, json.dumps(data)))
            assert counts(runtime.engine)[0] == rows + 1, label
        runtime.work_once()
        with Session(runtime.engine) as session:
            stored = session.exec(select(Message)).all()
        assert [(m.processed_at is not None, m.last_error) for m in stored] == [(True, None)] * len(frames)
        self.then_a_good_frame(fake, runtime, 1)

    def test_two_frames_without_msg_id_are_both_kept(self, runtime, fake, stream):
        for text in ("第一条", "第二条"):
            data = {k: v for k, v in fake.chatbot_text(LILEI, text).items() if k != "msgId"}
            fake.wait_for_ack(fake.deliver_raw(TOPIC_CHATBOT, json.dumps(data)))
        assert [m.text for m in inbox(runtime.engine)] == ["第一条", "第二条"]

    def test_huge_and_odd_texts_are_stored_exactly_and_answered(self, runtime, fake, stream):
        texts = [*AWKWARD_TEXTS.values(), LONG_NOTE * 8000]  # the last ≈ 184 000 chars, 550 KB on the wire
        for text in texts:
            fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, text)))
        assert [m.text for m in inbox(runtime.engine)] == [t.strip() for t in texts]
        assert_answered(runtime, len(texts))

    @pytest.mark.parametrize("odd", ["\x00", "\ud800"], ids=["nul", "lone surrogate"])
    def test_text_with_characters_a_database_refuses_is_kept_and_answered(self, runtime, fake, stream, odd):
        """JSON can carry U+0000 and lone surrogates (\\ud800); DingTalk delivers a robot message once only.
        NUL is dropped and a lone surrogate becomes U+FFFD (Event.storable)."""
        odd_one = fake.deliver_raw(TOPIC_CHATBOT, json.dumps(fake.chatbot_text(LILEI, f"帮助{odd}华东医疗")))
        fake.wait_for_ack(fake.deliver_chatbot(fake.chatbot_text(LILEI, "第二条：华东医疗")))
        fake.wait_for_ack(odd_one, timeout=2)
        assert_answered(runtime, 2)
