"""Self-tests: the WeCom fake and callback sender agree with wechatpy and with WeCom's published vectors."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import xmltodict
from wechatpy.enterprise import WeChatClient, parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.exceptions import APILimitedException, WeChatClientException

from .wecom_server import FakeWeCom, WeComCallbackSender

VECTORS = Path(__file__).resolve().parents[1] / "data" / "wecom_official_vectors.json"  # copy of ../shared/fixtures
TOKEN = "liuhenTestToken"
AES_KEY = base64.b64encode(bytes(range(32))).decode()[:-1]
CORP_ID = "wwfakecorp0000001"


class FakeBackedClient(WeChatClient):
    """wechatpy's fetch_access_token hard-codes qyapi.weixin.qq.com; everything else follows API_BASE_URL."""

    def __init__(self, fake: FakeWeCom) -> None:
        self.API_BASE_URL = fake.base_url + "/cgi-bin/"
        super().__init__(fake.corp_id, fake.secret, timeout=5)

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
        )


class Receiver:
    """A callback endpoint that decrypts with wechatpy and answers per script: "ok", "500" or "hang"."""

    def __init__(self, crypto: WeChatCrypto, script: list[str]) -> None:
        self.script = script
        self.received: list[str] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
                )
                action = receiver.script.pop(0) if receiver.script else "ok"
                if action == "hang":
                    receiver.release.wait(10)
                    return
                self.send_response(500 if action == "500" else 200)
                self.send_header("Content-Length", "0")  # WeCom's acknowledgement: an empty body
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wecom/callback"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom(corp_id=CORP_ID) as server:
        yield server


@pytest.fixture
def client(fake: FakeWeCom) -> FakeBackedClient:
    return FakeBackedClient(fake)


@pytest.fixture
def sender() -> WeComCallbackSender:
    return WeComCallbackSender(TOKEN, AES_KEY, CORP_ID)


@pytest.fixture
def crypto() -> WeChatCrypto:
    return WeChatCrypto(TOKEN, AES_KEY, CORP_ID)


@pytest.fixture
def receiver(crypto: WeChatCrypto) -> Iterator[Callable[[list[str]], Receiver]]:
    opened: list[Receiver] = []

    def make(script: list[str]) -> Receiver:
        opened.append(Receiver(crypto, script))
        return opened[-1]

    yield make
    for r in opened:
        r.close()


def token(fake: FakeWeCom) -> str:
    return httpx.get(
        f"{fake.base_url}/cgi-bin/gettoken", params={"corpid": fake.corp_id, "corpsecret": fake.secret}
    ).json()["access_token"]


def send_text(fake: FakeWeCom, access_token: str, touser: str = "lilei", text: str = "hi") -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}/cgi-bin/message/send",
        params={"access_token": access_token},
        json={"touser": touser, "agentid": fake.agent_id, "msgtype": "text", "text": {"content": text}},
    )


# -- crypto against wechatpy and the official vectors ---------------------------------------------


def test_callback_decrypts_with_wechatpy(sender: WeComCallbackSender, crypto: WeChatCrypto) -> None:
    xml = sender.text_xml("lilei", "拜访华东医疗 ]]> 王总")
    params, body = sender.encrypt_callback(xml)
    plain = crypto.decrypt_message(body, params["msg_signature"], params["timestamp"], params["nonce"])
    assert plain == xml
    assert parse_message(plain).content == "拜访华东医疗 ]]> 王总"


def test_url_verification_checks_with_wechatpy_through_urlencode(
    sender: WeComCallbackSender, crypto: WeChatCrypto
) -> None:
    plain, params = next(
        (p, v)
        for p, v in ((f"echo{i}", sender.url_verify_params(f"echo{i}")) for i in range(200))
        if "+" in v["echostr"]
    )
    query = {
        k: v[-1] for k, v in parse_qs(urlsplit(sender.callback_url("http://h/cb", params)).query).items()
    }
    assert query == params
    assert (
        crypto.check_signature(query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"])
        == plain
    )


def test_reads_wechatpy_passive_reply(sender: WeComCallbackSender, crypto: WeChatCrypto) -> None:
    reply = "<xml><ToUserName><![CDATA[lilei]]></ToUserName><Content><![CDATA[已记录]]></Content></xml>"
    assert sender.read_reply(crypto.encrypt_message(reply, "123456", "1700000000")) == reply


def test_rejects_bad_signature_and_foreign_corp(sender: WeComCallbackSender) -> None:
    params, body = sender.encrypt_callback(sender.text_xml("lilei", "x"))
    with pytest.raises(ValueError):
        sender.decrypt_callback({**params, "msg_signature": "0" * 40}, body)
    other = WeComCallbackSender(TOKEN, AES_KEY, "wwanothercorp")
    with pytest.raises(ValueError):
        other.decrypt_callback(params, body)


def test_official_vectors_verify_and_decrypt() -> None:
    vectors = json.loads(VECTORS.read_text())
    sender = WeComCallbackSender(vectors["token"], vectors["encoding_aes_key"], vectors["corp_id"])
    verification = vectors["url_verification"]
    assert sender.verify_url(verification) == verification["expected_plain"]
    message = vectors["message"]
    inner = xmltodict.parse(sender.decrypt_callback(message, message["body"]))["xml"]
    assert {k: inner[k] for k in message["expected"]} == message["expected"]


BUILDERS: list[tuple[str, Callable[[WeComCallbackSender], str], str, dict[str, Any]]] = [
    ("text", lambda s: s.text_xml("lilei", "你好"), "TextMessage", {"Content": "你好"}),
    ("image", lambda s: s.image_xml("lilei", "MEDIA1"), "ImageMessage", {"MediaId": "MEDIA1"}),
    ("voice", lambda s: s.voice_xml("lilei", "MEDIA2"), "VoiceMessage", {"Format": "amr"}),
    ("video", lambda s: s.video_xml("lilei", "MEDIA3", "THUMB3"), "VideoMessage", {"ThumbMediaId": "THUMB3"}),
    (
        "location",
        lambda s: s.location_xml("lilei", 31.23, 121.47, "上海"),
        "LocationMessage",
        {"Label": "上海"},
    ),
    (
        "link",
        lambda s: s.link_xml("lilei", "https://example.com/p", "方案"),
        "LinkMessage",
        {"Url": "https://example.com/p"},
    ),
    ("click", lambda s: s.click_xml("lilei", "daily_note"), "ClickEvent", {"EventKey": "daily_note"}),
    (
        "view",
        lambda s: s.view_xml("lilei", "https://example.com/d"),
        "ViewEvent",
        {"EventKey": "https://example.com/d"},
    ),
    ("enter_agent", lambda s: s.enter_agent_xml("lilei"), "EnterAgentEvent", {"Event": "enter_agent"}),
    (
        "file",
        lambda s: s.file_xml("lilei", "MEDIA4", "报价单.pdf"),
        "UnknownMessage",
        {"FileName": "报价单.pdf"},
    ),
    (
        "card",
        lambda s: s.template_card_event_xml("lilei", "approve:42", "task-1", response_code="RC"),
        "UnknownMessage",
        {
            "Event": "template_card_event",
            "EventKey": "approve:42",
            "TaskId": "task-1",
            "CardType": "button_interaction",
            "ResponseCode": "RC",
        },
    ),
    (
        "contact",
        lambda s: s.change_contact_xml("create_user", "hanmeimei", department=[2, 3], name="韩梅梅"),
        "UnknownMessage",
        {
            "FromUserName": "sys",
            "ChangeType": "create_user",
            "UserID": "hanmeimei",
            "Department": "2,3",
            "Name": "韩梅梅",
        },
    ),
]


@pytest.mark.parametrize(("build", "cls", "fields"), [b[1:] for b in BUILDERS], ids=[b[0] for b in BUILDERS])
def test_inner_xml_parses_with_wechatpy(
    sender: WeComCallbackSender,
    crypto: WeChatCrypto,
    build: Callable[[WeComCallbackSender], str],
    cls: str,
    fields: dict[str, Any],
) -> None:
    params, body = sender.encrypt_callback(build(sender))
    plain = crypto.decrypt_message(body, params["msg_signature"], params["timestamp"], params["nonce"])
    assert type(parse_message(plain)).__name__ == cls
    raw = xmltodict.parse(plain)["xml"]
    assert {k: raw[k] for k in fields} == fields
    assert raw["ToUserName"] == CORP_ID


def test_vote_card_event_carries_selected_items(sender: WeComCallbackSender) -> None:
    xml = sender.template_card_event_xml(
        "lilei",
        "submit",
        "task-2",
        card_type="vote_interaction",
        selected_items={"stage": ["s3"], "risk": ["budget", "timing"]},
    )
    items = xmltodict.parse(xml, force_list=("SelectedItem", "OptionId"))["xml"]["SelectedItems"][
        "SelectedItem"
    ]
    assert [(i["QuestionKey"], i["OptionIds"]["OptionId"]) for i in items] == [
        ("stage", ["s3"]),
        ("risk", ["budget", "timing"]),
    ]


# -- delivery like WeCom ---------------------------------------------------------------------------


def test_post_retries_on_non_200_until_accepted(
    sender: WeComCallbackSender, receiver: Callable[..., Receiver]
) -> None:
    endpoint = receiver(["500", "500", "ok"])
    xml = sender.text_xml("lilei", "重试")
    attempts = sender.post(endpoint.url, xml)
    assert [a.status_code for a in attempts if isinstance(a, httpx.Response)] == [500, 500, 200]
    assert endpoint.received == [xml, xml, xml]


def test_post_retries_after_timeout(sender: WeComCallbackSender, receiver: Callable[..., Receiver]) -> None:
    endpoint = receiver(["hang", "ok"])
    attempts = sender.post(endpoint.url, sender.text_xml("lilei", "慢"), deadline=0.3)
    assert isinstance(attempts[0], httpx.TimeoutException)
    assert isinstance(attempts[1], httpx.Response) and attempts[1].status_code == 200
    assert len(endpoint.received) == 2


def test_post_gives_up_after_three_retries(
    sender: WeComCallbackSender, receiver: Callable[..., Receiver]
) -> None:
    endpoint = receiver(["500"] * 10)
    assert len(sender.post(endpoint.url, sender.text_xml("lilei", "x"))) == 4
    assert len(endpoint.received) == 4


# -- the server API fake, driven by wechatpy --------------------------------------------------------


def test_wechatpy_client_gets_token_and_sends_text(fake: FakeWeCom, client: FakeBackedClient) -> None:
    result = client.message.send_text(fake.agent_id, "lilei", "明天拜访华东医疗")
    assert result["errcode"] == 0 and result["invaliduser"] == "" and result["msgid"]
    assert fake.sent_messages(touser="lilei")[0]["text"]["content"] == "明天拜访华东医疗"
    assert [r.path for r in fake.requests] == ["/cgi-bin/gettoken", "/cgi-bin/message/send"]


def test_gettoken_rejects_wrong_credentials(fake: FakeWeCom) -> None:
    url = f"{fake.base_url}/cgi-bin/gettoken"
    assert httpx.get(url, params={"corpid": "wrong", "corpsecret": fake.secret}).json()["errcode"] == 40013
    assert httpx.get(url, params={"corpid": fake.corp_id, "corpsecret": "wrong"}).json()["errcode"] == 40001


def test_unknown_or_missing_token_is_refused(fake: FakeWeCom) -> None:
    assert send_text(fake, "not-a-token").json()["errcode"] == 40014
    assert httpx.post(f"{fake.base_url}/cgi-bin/message/send", json={}).json()["errcode"] == 41001
    assert fake.sent_messages() == []


def test_invalid_recipients(fake: FakeWeCom) -> None:
    access_token = token(fake)
    partly = send_text(fake, access_token, touser="lilei|ghost").json()
    assert partly["errcode"] == 0 and partly["invaliduser"] == "ghost"
    assert send_text(fake, access_token, touser="ghost").json()["errcode"] == 81013
    assert len(fake.sent_messages()) == 1


def test_wrong_agentid_is_refused(fake: FakeWeCom, client: FakeBackedClient) -> None:
    with pytest.raises(WeChatClientException) as caught:
        client.message.send_text(1, "lilei", "x")
    assert caught.value.errcode == 40056


def test_rate_limit_then_success(fake: FakeWeCom, client: FakeBackedClient) -> None:
    fake.fail_next("message/send", errcode=45009)
    with pytest.raises(APILimitedException):
        client.message.send_text(fake.agent_id, "lilei", "第一次")
    client.message.send_text(fake.agent_id, "lilei", "第二次")
    sends = fake.calls("/cgi-bin/message/send")
    assert [(r.errcode, r.injected) for r in sends] == [(45009, True), (0, False)]
    assert "api freq out of limit" in sends[0].response["errmsg"]
    assert [m["text"]["content"] for m in fake.sent_messages()] == ["第二次"]


def test_http_500_faults_are_counted(fake: FakeWeCom) -> None:
    access_token = token(fake)
    fake.fail_next("message/send", http_status=500, times=2)
    assert [send_text(fake, access_token).status_code for _ in range(3)] == [500, 500, 200]
    assert len(fake.sent_messages()) == 1


def test_faults_are_thread_safe(fake: FakeWeCom) -> None:
    access_token = token(fake)
    fake.fail_next("message/send", errcode=45009, times=3)
    codes: list[int] = []
    threads = [
        threading.Thread(target=lambda: codes.append(send_text(fake, access_token).json()["errcode"]))
        for _ in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [0] * 9 + [45009] * 3
    assert len(fake.sent_messages()) == 9


def test_fail_forever_until_cleared(fake: FakeWeCom) -> None:
    access_token = token(fake)
    fake.fail_forever("message/send", errcode=-1)
    assert {send_text(fake, access_token).json()["errcode"] for _ in range(4)} == {-1}
    fake.clear_faults("message/send")
    assert send_text(fake, access_token).json()["errcode"] == 0


def test_expired_tokens_answer_42001_until_refetched(fake: FakeWeCom) -> None:
    old = token(fake)
    assert token(fake) == old  # WeCom hands out the same token while valid
    fake.expire_tokens()
    assert send_text(fake, old).json()["errcode"] == 42001
    new = token(fake)
    assert new != old and send_text(fake, new).json()["errcode"] == 0


def test_wechatpy_refreshes_after_expiry(fake: FakeWeCom, client: FakeBackedClient) -> None:
    client.message.send_text(fake.agent_id, "lilei", "一")
    fake.expire_tokens()
    client.message.send_text(fake.agent_id, "lilei", "二")
    assert [(r.path.rsplit("/", 1)[-1], r.errcode) for r in fake.requests] == [
        ("gettoken", 0),
        ("send", 0),
        ("send", 42001),
        ("gettoken", 0),
        ("send", 0),
    ]


def test_delay_makes_client_time_out_once(fake: FakeWeCom) -> None:
    access_token = token(fake)
    fake.delay_next("message/send", 2.0)
    with pytest.raises(httpx.TimeoutException):
        httpx.post(
            f"{fake.base_url}/cgi-bin/message/send",
            params={"access_token": access_token},
            json={"touser": "lilei", "agentid": fake.agent_id, "msgtype": "text", "text": {"content": "x"}},
            timeout=0.2,
        )
    assert send_text(fake, access_token).json()["errcode"] == 0


def test_template_card_gets_response_code_and_can_be_updated(
    fake: FakeWeCom, client: FakeBackedClient
) -> None:
    card = {
        "card_type": "button_interaction",
        "main_title": {"title": "推进到方案阶段？"},
        "task_id": "t-1",
        "button_list": [{"text": "确认", "key": "advance:7"}],
    }
    sent = client.message.send(
        fake.agent_id, "lilei", msg={"msgtype": "template_card", "template_card": card}
    )
    assert sent["response_code"]
    assert "response_code" not in client.message.send_text(fake.agent_id, "lilei", "x")
    client.post(
        "message/update_template_card",
        data={
            "userids": ["lilei"],
            "agentid": fake.agent_id,
            "response_code": sent["response_code"],
            "button": {"replace_name": "已确认"},
        },
    )
    assert fake.card_updates()[0]["button"] == {"replace_name": "已确认"}
    assert fake.sent_messages(msgtype="template_card")[0]["template_card"]["task_id"] == "t-1"


def test_media_upload_records_file_and_serves_it_back(fake: FakeWeCom, client: FakeBackedClient) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    media_id = client.media.upload("image", ("漏斗图.png", png, "image/png"))["media_id"]
    upload = fake.uploads()[0]
    assert (upload.filename, upload.content_type, upload.data) == ("漏斗图.png", "image/png", png)
    got = httpx.get(
        f"{fake.base_url}/cgi-bin/media/get",
        params={"access_token": client.access_token, "media_id": media_id},
    )
    assert got.content == png


def test_inbound_media_can_be_downloaded(fake: FakeWeCom) -> None:
    media_id = fake.add_media(b"%PDF-1.4 ...", "合同.pdf", "application/pdf")
    got = httpx.get(
        f"{fake.base_url}/cgi-bin/media/get", params={"access_token": token(fake), "media_id": media_id}
    )
    assert got.content == b"%PDF-1.4 ..." and "filename*=UTF-8''" in got.headers["content-disposition"]


def test_contacts_serve_the_configured_org(fake: FakeWeCom, client: FakeBackedClient) -> None:
    departments = client.department.get()
    assert {d["id"]: d["department_leader"] for d in departments} == {1: ["wangzong"], 2: ["zhangwei"]}
    members = client.user.list(2)
    assert {u["userid"]: (u["position"], u["is_leader_in_dept"]) for u in members} == {
        "zhangwei": ("销售经理", [1]),
        "lilei": ("销售代表", [0]),
    }
    assert {u["userid"] for u in client.user.list(1, fetch_child=True)} == {"wangzong", "zhangwei", "lilei"}
    with pytest.raises(WeChatClientException) as caught:
        client.user.list(99)
    assert caught.value.errcode == 60003


def test_menu_create_is_recorded(fake: FakeWeCom, client: FakeBackedClient) -> None:
    menu = {"button": [{"type": "click", "name": "日报速记", "key": "daily_note"}]}
    client.menu.create(fake.agent_id, menu)
    assert fake.menu == menu
    assert fake.calls("menu/create")[0].query["agentid"] == str(fake.agent_id)


def test_wait_for_messages_sent_from_another_thread(fake: FakeWeCom, client: FakeBackedClient) -> None:
    worker = threading.Thread(target=lambda: client.message.send_text(fake.agent_id, "zhangwei", "日报汇总"))
    worker.start()
    assert fake.wait_for_messages(1, touser="zhangwei")[0]["text"]["content"] == "日报汇总"
    worker.join()


# -- documented limits (doc 90236 message/send, doc 94888 update_template_card; wechatpy's send_markdown docstring:
# "markdown内容，最长不超过2048个字节") --------------------------------------------------------------------------

BUTTON_CARD = {
    "card_type": "button_interaction",
    "main_title": {"title": "推进到方案阶段？"},
    "task_id": "t-1",
    "button_list": [{"text": "确认", "key": "advance:7"}],
}


def test_app_markdown_over_2048_bytes_is_refused_with_40058(fake: FakeWeCom, client: FakeBackedClient) -> None:
    exactly = "汉" * 682 + "ab"  # 2048 bytes in UTF-8
    client.message.send_markdown(fake.agent_id, "lilei", exactly)
    with pytest.raises(WeChatClientException) as refused:
        client.message.send_markdown(fake.agent_id, "lilei", exactly + "c")
    assert refused.value.errcode == 40058 and "exceed max length 2048" in refused.value.errmsg
    assert [m["markdown"]["content"] for m in fake.sent_messages(msgtype="markdown")] == [exactly]


def test_app_text_over_2048_bytes_is_cut_as_wecom_cuts_it(fake: FakeWeCom, client: FakeBackedClient) -> None:
    client.message.send_text(fake.agent_id, "lilei", "汉" * 700)  # 2100 bytes: accepted, the member reads 682
    [sent] = fake.sent_messages(msgtype="text")
    assert sent["text"]["content"] == "汉" * 682


def test_a_response_code_updates_once(fake: FakeWeCom, client: FakeBackedClient) -> None:
    sent = client.message.send(fake.agent_id, "lilei", msg={"msgtype": "template_card", "template_card": BUTTON_CARD})
    update = {"userids": ["lilei"], "agentid": fake.agent_id, "response_code": sent["response_code"],
              "button": {"replace_name": "已确认"}}
    client.post("message/update_template_card", data=update)
    with pytest.raises(WeChatClientException) as refused:
        client.post("message/update_template_card", data={**update, "button": {"replace_name": "再次"}})
    assert refused.value.errcode == 40058
    seen = fake.card_view("lilei", "t-1")
    assert seen.button_text == "已确认" and not seen.clickable


def test_a_click_code_is_new_per_click_and_expires_after_72_hours(fake: FakeWeCom, client: FakeBackedClient) -> None:
    client.message.send(fake.agent_id, "lilei", msg={"msgtype": "template_card", "template_card": BUTTON_CARD})
    fresh, stale = fake.click("lilei", "t-1"), fake.click("lilei", "t-1", age=72 * 3600 + 1)
    assert fresh != stale
    with pytest.raises(WeChatClientException) as refused:
        client.post("message/update_template_card", data={"userids": ["lilei"], "agentid": fake.agent_id,
                                                          "response_code": stale, "button": {"replace_name": "x"}})
    assert refused.value.errcode == 40058 and fake.card_view("lilei", "t-1").clickable
    with pytest.raises(WeChatClientException):  # a code WeCom never issued
        client.post("message/update_template_card", data={"userids": ["lilei"], "agentid": fake.agent_id,
                                                          "response_code": "made-up", "button": {"replace_name": "x"}})
    new_card = {"card_type": "text_notice", "main_title": {"title": "已确认"}, "task_id": "t-1b",
                "card_action": {"type": 1, "url": "https://liuhen.example/"}}
    client.post("message/update_template_card", data={"userids": ["lilei"], "agentid": fake.agent_id,
                                                      "response_code": fresh, "template_card": new_card})
    seen = fake.card_view("lilei", "t-1")
    assert seen.content == new_card and not seen.clickable


@pytest.mark.parametrize(("card", "errcode"), [
    ({"card_type": "text_notice", "main_title": {"title": "无跳转"}, "task_id": "t-2"}, 42045),  # card_action needed
    ({"card_type": "button_interaction", "main_title": {"title": "无按钮"}, "task_id": "t-3", "button_list": []},
     47001),
    ({"card_type": "button_interaction", "main_title": {"title": "七个按钮"}, "task_id": "t-4",
      "button_list": [{"text": str(n), "key": str(n)} for n in range(7)]}, 47001),
])
def test_template_cards_wecom_refuses(fake: FakeWeCom, client: FakeBackedClient, card: dict[str, Any],
                                      errcode: int) -> None:
    with pytest.raises(WeChatClientException) as refused:
        client.message.send(fake.agent_id, "lilei", msg={"msgtype": "template_card", "template_card": card})
    assert refused.value.errcode == errcode and fake.sent_messages() == []


def test_greying_buttons_is_refused_on_a_card_without_buttons(fake: FakeWeCom, client: FakeBackedClient) -> None:
    card = {"card_type": "text_notice", "main_title": {"title": "通知"}, "task_id": "t-5",
            "card_action": {"type": 1, "url": "https://liuhen.example/"}, "action_menu": {"desc": "更多",
                                                                                          "action_list": []}}
    sent = client.message.send(fake.agent_id, "lilei", msg={"msgtype": "template_card", "template_card": card})
    with pytest.raises(WeChatClientException) as refused:
        client.post("message/update_template_card", data={"userids": ["lilei"], "agentid": fake.agent_id,
                                                          "response_code": sent["response_code"],
                                                          "button": {"replace_name": "x"}})
    assert refused.value.errcode == 47001


def test_untrusted_ip_answers_60020(fake: FakeWeCom, client: FakeBackedClient) -> None:
    fake.refuse_untrusted_ip()
    with pytest.raises(WeChatClientException) as refused:
        client.message.send_text(fake.agent_id, "lilei", "x")
    assert refused.value.errcode == 60020 and "not allow to access from your ip" in refused.value.errmsg
