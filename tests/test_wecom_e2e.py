import json
import socket
import threading
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.runtime import Runtime
from tests.conftest import DATA
from tests.wecom_helpers import URL, fake, inbox, sender_for, settings, wecom_settings  # noqa: F401 (fixtures)


@pytest.fixture
def serve():
    """Runs a runtime's app under real uvicorn on a random loopback port, workers started; yields its base URL."""
    servers = []

    def start(runtime: Runtime) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # connections queue here until uvicorn accepts them: no start-up polling needed
        server = uvicorn.Server(uvicorn.Config(create_app(runtime), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def test_help_and_its_card_button_round_trip_over_the_real_protocol(runtime, fake, serve):
    base = serve(runtime)
    sender = sender_for(fake)
    stamp = int(runtime.clock.now().timestamp())
    [answer] = sender.post(base + URL, sender.text_xml("lilei", "帮助"), timestamp=stamp)
    assert (answer.status_code, answer.text) == (200, "")

    [card] = fake.wait_for_messages(1, touser="lilei", msgtype="template_card")
    content = card["template_card"]
    assert content["main_title"]["title"] == "留痕 · 可用命令"
    assert "帮助" in content["sub_title_text"] and "取消" in content["sub_title_text"]
    [button] = content["button_list"]
    [sent] = [c for c in fake.calls("message/send") if c.ok and c.json["msgtype"] == "template_card"]

    click = sender.template_card_event_xml("lilei", button["key"], content["task_id"],
                                           response_code=sent.response["response_code"])
    [answer] = sender.post(base + URL, click, timestamp=stamp)
    assert (answer.status_code, answer.text) == (200, "")

    cards = fake.wait_for_messages(2, touser="lilei", msgtype="template_card")
    assert cards[1]["template_card"]["main_title"]["title"] == "留痕 · 可用命令"
    [update] = fake.wait_for_calls("message/update_template_card", 1)
    assert update.json["response_code"] == sent.response["response_code"]
    assert update.json["button"] == {"replace_name": "已处理"}
    assert len(fake.sent_messages(touser="lilei")) == 2  # nothing else, no "card used" complaint


def test_url_verification_over_http_answers_the_decrypted_echostr(runtime, fake, serve):
    base = serve(runtime)
    sender = sender_for(fake)
    params = sender.url_verify_params("8264903175+/=", timestamp=int(runtime.clock.now().timestamp()))
    answer = httpx.get(sender.callback_url(base + URL, params))
    assert (answer.status_code, answer.text, answer.headers["content-type"].split(";")[0]) == (
        200, "8264903175+/=", "text/plain",
    )


def test_wecom_published_vectors_verify_and_decrypt(db_url, engine, clock, fake):
    vectors = json.loads((DATA / "wecom_official_vectors.json").read_text())
    settings = wecom_settings(db_url, fake, token=vectors["token"], corp_id=vectors["corp_id"],
                              encoding_aes_key=vectors["encoding_aes_key"])
    clock.set(datetime.fromtimestamp(int(vectors["message"]["timestamp"]), UTC))  # they were signed in 2014
    app = create_app(Runtime(settings, clock=clock, engine=engine), start_workers=False)
    with TestClient(app) as client:
        check = vectors["url_verification"]
        answer = client.get(URL, params={k: check[k] for k in ("msg_signature", "timestamp", "nonce", "echostr")})
        assert (answer.status_code, answer.text) == (200, check["expected_plain"])
        message = vectors["message"]
        params = {k: message[k] for k in ("msg_signature", "timestamp", "nonce")}
        answer = client.post(URL, params=params, content=message["body"])
        assert (answer.status_code, answer.text) == (200, "")
    [row] = inbox(engine)
    assert (row.kind, row.sender, row.text) == ("text", "mycreate", "hello")
