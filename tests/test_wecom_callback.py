import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.events import Event, stable_msg_id
from bot.group_commit import AcksFirst, GroupCommit
from store.db import make_engine
from store.models import Alert, User
from tests.conftest import T0
from tests.wecom_helpers import URL, fake, inbox, outbox, sender, settings, signed  # noqa: F401 (fixtures)

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    + "]><xml><Encrypt>&lol9;</Encrypt></xml>"
)
XXE_INNER = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>x</ToUserName><FromUserName>lilei</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"
)


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def post(client, sender, runtime, xml):
    params, body = signed(sender, runtime.clock, xml)
    return client.post(URL, params=params, content=body)


def rejected(runtime, reason):
    return runtime.metrics.inbound_rejected.labels("wecom", reason)._value.get()


def test_text_is_stored_then_acknowledged_and_answered_over_wecom(client, runtime, sender, fake):
    answer = post(client, sender, runtime, sender.text_xml("lilei", "帮助", msg_id=42))
    assert (answer.status_code, answer.text) == (200, "")
    [row] = inbox(runtime.engine)
    assert (row.channel, row.msg_id, row.kind, row.sender, row.text) == ("wecom", "42", "text", "lilei", "帮助")
    assert row.processed_at is None  # the answer never waits for the handler
    runtime.work_once()
    [card] = fake.sent_messages(touser="lilei", msgtype="template_card")
    assert card["template_card"]["main_title"]["title"] == "留痕 · 可用命令"


def test_redelivered_message_is_acknowledged_and_processed_once(client, runtime, sender, fake):
    xml = sender.text_xml("lilei", "帮助", msg_id=7)
    for _ in range(3):
        assert post(client, sender, runtime, xml).text == ""
        runtime.work_once()
    assert len(inbox(runtime.engine)) == 1
    assert len(fake.sent_messages(touser="lilei")) == 1


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda s: s.image_xml("lilei", "media-1", pic_url="https://p/1", msg_id=1),
         {"kind": "image", "media": "media-1", "url": "https://p/1"}),
        (lambda s: s.voice_xml("lilei", "media-2", msg_id=2), {"kind": "voice", "media": "media-2"}),
        (lambda s: s.video_xml("lilei", "media-3", "thumb-3", msg_id=3),
         {"kind": "video", "media": "media-3", "payload": {"thumb_media_id": "thumb-3"}}),
        (lambda s: s.file_xml("lilei", "media-4", "方案.pdf", msg_id=4),
         {"kind": "file", "media": "media-4", "filename": "方案.pdf"}),
        (lambda s: s.link_xml("lilei", "https://demo.example/p", "产品介绍", msg_id=5),
         {"kind": "link", "url": "https://demo.example/p", "text": "产品介绍"}),
        (lambda s: s.location_xml("lilei", 31.2, 121.5, "上海", msg_id=6), {"kind": "location", "text": "上海"}),
        (lambda s: s.click_xml("lilei", "日报速记", create_time=1_764_554_400),
         {"kind": "menu_click", "action": "日报速记",
          "msg_id": stable_msg_id("lilei", "1764554400", "click", "日报速记")}),
        (lambda s: s.view_xml("lilei", "https://liuhen.example/dash"),
         {"kind": "menu_click", "action": None, "url": "https://liuhen.example/dash"}),
        (lambda s: s.enter_agent_xml("lilei"), {"kind": "enter"}),
        (lambda s: s.template_card_event_xml("lilei", "tok-1", "task-1", response_code="rc-1",
                                             create_time=1_764_554_400),
         {"kind": "card_action", "action": "tok-1", "card_ref": "rc-1",
          "msg_id": stable_msg_id("lilei", "1764554400", "template_card_event", "tok-1")}),
        (lambda s: s.change_contact_xml("update_user", "lilei", department=[2, 3], is_leader_in_dept=[0, 1]),
         {"kind": "contact_change", "sender": "sys",
          "payload": {"ChangeType": "update_user", "UserID": "lilei", "Department": [2, 3],
                      "IsLeaderInDept": [0, 1]}}),
    ],
    ids=["image", "voice", "video", "file", "link", "location", "click", "view", "enter", "card", "contact"],
)
def test_each_callback_type_is_normalised(client, runtime, sender, build, expected):
    assert post(client, sender, runtime, build(sender)).text == ""
    [row] = inbox(runtime.engine)
    event = row.event
    assert row.kind == expected["kind"]
    for key, value in expected.items():
        if key == "payload":
            assert value.items() <= event["payload"].items()
        else:
            assert event[key] == value


def test_unknown_type_is_stored_as_other_and_acknowledged(client, runtime, sender):
    xml = ("<xml><ToUserName>c</ToUserName><FromUserName>lilei</FromUserName><CreateTime>1</CreateTime>"
           "<MsgType>event</MsgType><Event>open_approval_change</Event><AgentID>1</AgentID></xml>")
    answer = post(client, sender, runtime, xml)
    assert (answer.status_code, answer.text) == (200, "")
    [row] = inbox(runtime.engine)
    assert row.kind == "other" and row.event["payload"] == {"event": "open_approval_change"}
    runtime.work_once()  # no handler: nothing breaks, nothing is said
    assert inbox(runtime.engine)[0].processed_at is not None


def test_platform_event_of_an_unforeseen_type_is_stored_and_never_answered(client, runtime, sender, fake):
    xml = ("<xml><ToUserName>c</ToUserName><FromUserName>sys</FromUserName><CreateTime>1</CreateTime>"
           "<MsgType>event</MsgType><Event>batch_job_result</Event><BatchJob><JobId>j1</JobId></BatchJob></xml>")
    answer = post(client, sender, runtime, xml)
    assert (answer.status_code, answer.text) == (200, "")
    runtime.work_once()
    [row] = inbox(runtime.engine)
    assert (row.kind, row.sender) == ("other", "sys") and row.processed_at is not None
    assert outbox(runtime.engine) == [] and fake.sent_messages() == []  # no 没听懂, no unknown-user notice
    with Session(runtime.engine) as session:
        assert session.exec(select(Alert)).all() == []


def test_bad_signature_is_forbidden_and_nothing_stored(client, runtime, sender):
    params, body = signed(sender, runtime.clock, sender.text_xml("lilei", "帮助"))
    params["msg_signature"] = params["msg_signature"][:-1] + ("0" if params["msg_signature"][-1] != "0" else "1")
    assert client.post(URL, params=params, content=body).status_code == 403
    assert inbox(runtime.engine) == [] and rejected(runtime, "signature") == 1


@pytest.mark.parametrize("skew", [-601, 601])
def test_timestamp_outside_the_window_is_refused_as_replay(client, runtime, sender, skew):
    stamp = int(runtime.clock.now().timestamp()) + skew
    params, body = sender.encrypt_callback(sender.text_xml("lilei", "帮助"), timestamp=stamp)
    assert client.post(URL, params=params, content=body).status_code == 403
    assert inbox(runtime.engine) == [] and rejected(runtime, "replay") == 1


def test_body_over_one_mib_is_refused_whether_declared_or_streamed(client, runtime, sender):
    params, _ = signed(sender, runtime.clock, sender.text_xml("lilei", "帮助"))
    big = b"<xml>" + b"x" * (2 * 1024 * 1024) + b"</xml>"
    assert client.post(URL, params=params, content=big).status_code == 413

    def chunks():  # no Content-Length: the limit must hold on what is actually read
        for _ in range(32):
            yield b"x" * 65536 + b"y"

    assert client.post(URL, params=params, content=chunks()).status_code == 413
    assert inbox(runtime.engine) == [] and rejected(runtime, "too_large") == 2


def test_billion_laughs_is_refused_before_parsing(client, runtime, sender):
    params, _ = signed(sender, runtime.clock, sender.text_xml("lilei", "帮助"))
    assert client.post(URL, params=params, content=BILLION_LAUGHS.encode()).status_code == 400
    assert inbox(runtime.engine) == [] and rejected(runtime, "dtd") == 1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_body_not_in_utf8_is_refused_before_any_parser_sees_it(client, runtime, sender, fake, encoding):
    """WeCom speaks UTF-8 only; in UTF-16 a DTD would slip past a byte search, so the envelope is refused whole."""
    params, body = signed(sender, runtime.clock, sender.text_xml("lilei", "帮助"))
    declared = body.decode().replace("<xml>", f'<?xml version="1.0" encoding="{encoding}"?><xml>', 1)
    assert client.post(URL, params=params, content=declared.encode(encoding)).status_code == 400
    bomb = BILLION_LAUGHS.replace('version="1.0"', f'version="1.0" encoding="{encoding}"')
    assert client.post(URL, params=params, content=bomb.encode(encoding)).status_code == 400
    assert inbox(runtime.engine) == [] and rejected(runtime, "malformed") == 2
    assert client.post(URL, params=params, content=body).text == ""  # the same callback in UTF-8
    assert [m.text for m in inbox(runtime.engine)] == ["帮助"]


def test_xxe_inside_a_validly_signed_callback_is_refused(client, runtime, sender):
    assert post(client, sender, runtime, XXE_INNER).status_code == 400
    assert inbox(runtime.engine) == [] and rejected(runtime, "dtd") == 1


def test_garbage_ciphertext_is_a_bad_request(client, runtime, sender):
    stamp, nonce, garbage = str(int(runtime.clock.now().timestamp())), "123", "bm90IGNpcGhlcnRleHQ="
    params = {"msg_signature": sender.signature(stamp, nonce, garbage), "timestamp": stamp, "nonce": nonce}
    body = f"<xml><ToUserName>c</ToUserName><Encrypt>{garbage}</Encrypt></xml>".encode()
    assert client.post(URL, params=params, content=body).status_code == 400
    assert inbox(runtime.engine) == [] and rejected(runtime, "undecryptable") == 1


@pytest.mark.parametrize("body", [b"<xml><Encrypt>abc", b"not xml at all", b"<xml><Other>1</Other></xml>", b""])
def test_malformed_outer_xml_is_a_bad_request(client, runtime, sender, body):
    params, _ = signed(sender, runtime.clock, sender.text_xml("lilei", "帮助"))
    assert client.post(URL, params=params, content=body).status_code == 400
    assert inbox(runtime.engine) == [] and rejected(runtime, "malformed") == 1


def test_url_verification_answers_the_plain_echostr(client, runtime, sender):
    params = sender.url_verify_params("echo-4711+/=", timestamp=int(runtime.clock.now().timestamp()))
    answer = client.get(sender.callback_url(URL, params))
    assert (answer.status_code, answer.text) == (200, "echo-4711+/=")
    params["msg_signature"] = "0" * 40
    assert client.get(sender.callback_url(URL, params)).status_code == 403


def test_contact_changes_create_promote_and_deactivate_users(client, runtime, sender, fake):
    post(client, sender, runtime, sender.change_contact_xml("create_user", "newbie", name="牛犇", department=[2]))
    runtime.work_once()
    post(client, sender, runtime, sender.change_contact_xml("update_user", "lilei", is_leader_in_dept=[1],
                                                            department=[2]))
    runtime.work_once()
    post(client, sender, runtime, sender.change_contact_xml("delete_user", "hanmeimei"))
    runtime.work_once()
    with Session(runtime.engine) as session:
        newbie, lilei, hanmeimei = (session.get(User, u) for u in ("newbie", "lilei", "hanmeimei"))
        assert (newbie.name, newbie.role, newbie.wecom_userid, newbie.active) == ("牛犇", "rep", "newbie", True)
        assert lilei.role == "manager" and lilei.name == "李雷"
        assert hanmeimei.active is False
        assert session.exec(select(Alert)).all() == []
    assert fake.sent_messages() == []  # nobody is told anything, least of all "sys"


def test_concurrent_callbacks_share_commits_and_redeliveries_stay_single(client, runtime, sender):
    xmls = [sender.text_xml("lilei", f"第{n}条", msg_id=1000 + n) for n in range(20)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda xml: post(client, sender, runtime, xml), xmls + xmls))
    assert {(a.status_code, a.text) for a in answers} == {(200, "")}
    assert sorted(int(row.msg_id) for row in inbox(runtime.engine)) == list(range(1000, 1020))
    metrics = runtime.metrics
    assert metrics.inbound.labels("wecom")._value.get() == 20
    assert metrics.inbound_duplicate.labels("wecom")._value.get() == 20


def test_one_event_that_cannot_be_stored_does_not_refuse_its_batch():
    stored = []

    def ingest_many(events):
        if any(e.text == "坏" for e in events):
            raise RuntimeError("value too long")
        stored.extend(e.text for e in events)
        return [True] * len(events)

    commit = GroupCommit(ingest_many)
    events = [Event(channel="wecom", msg_id=str(n), sender="lilei", kind="text", text=text,
                    received_at=T0) for n, text in enumerate(["好", "坏", "好"])]

    async def store_all():
        return await asyncio.gather(*(commit.store(e) for e in events), return_exceptions=True)

    first, bad, last = asyncio.run(store_all())
    assert (first, last) == (True, True) and isinstance(bad, RuntimeError) and stored == ["好", "好"]


def test_on_sqlite_pending_acknowledgements_go_before_new_transactions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    gate = AcksFirst(engine, max_hold=30)
    began = threading.Event()

    def worker_transaction():
        with engine.begin() as conn:
            conn.exec_driver_sql("SELECT 1")
            began.set()

    gate.close()
    with gate.writing(), engine.begin() as conn:  # the acknowledgement writer itself is never held up
        conn.exec_driver_sql("SELECT 1")
    worker = threading.Thread(target=worker_transaction)
    worker.start()
    assert not began.wait(0.2)
    gate.open()
    assert began.wait(10)
    worker.join()
