"""The product as an operator runs it: the real `liuhen` command in child processes, configured only by its config
file and environment, WeCom being the fake server on 127.0.0.1 (no patching of our code or an SDK)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import yaml
from sqlmodel import Session, select

from store.db import make_engine
from store.models import Outbox, User
from tests.conftest import daytime_zone
from tests.pipeline_helpers import opportunity
from tests.reliability.harness import Server, liuhen
from tests.wecom_helpers import AES_KEY, TOKEN, fake  # noqa: F401 (fixture)

ORG = """\
teams:
  - name: 华东一组
    manager: zhangwei
users:
  - {id: zhangwei, name: 张伟, role: manager, team: 华东一组, wecom_userid: zhangwei, hired_on: 2021-03-01}
  - {id: lilei, name: 李雷, role: rep, team: 华东一组, wecom_userid: lilei, hired_on: '2024-06-03'}
"""


def test_import_sweep_by_hand_flush_and_a_restarted_server_opens_the_delivered_link(tmp_path, fake):  # noqa: F811
    db_url = f"sqlite:///{tmp_path / 'liuhen.db'}"
    server = Server(tmp_path / "config.yaml", tmp_path, env={"LIUHEN__WECOM__SECRET": fake.secret})
    server.config.write_text(yaml.safe_dump({  # what CONTRACT.md documents: no server.link_secret
        "timezone": daytime_zone(), "database": {"url": db_url}, "server": {"public_url": server.base_url},
        "wecom": {"enabled": True, "corp_id": fake.corp_id, "agent_id": fake.agent_id, "token": TOKEN,
                  "encoding_aes_key": AES_KEY, "api_base": fake.base_url},
    }), encoding="utf-8")
    (tmp_path / "org.yaml").write_text(ORG, encoding="utf-8")

    def run(*args: str) -> str:
        return liuhen(*args, config=server.config, env=server.env).strip()

    assert run("db", "upgrade") == "数据库已升级到最新版本。"
    assert run("org", "import", str(tmp_path / "org.yaml")) == "已导入 1 个团队、2 个用户。"
    engine = make_engine(db_url)
    with Session(engine) as session:
        assert [(u.id, u.hired_on) for u in session.exec(select(User).order_by(User.id))] == [
            ("lilei", date(2024, 6, 3)), ("zhangwei", date(2021, 3, 1))]
    at = datetime.now(UTC) + timedelta(days=1)
    opportunity(engine, customer="华东医疗器械有限公司", at=at - timedelta(days=10))

    assert run("jobs", "run", "stage_lights", "--at", at.isoformat()).endswith("写入 1 条。")
    assert run("outbox", "flush") == "已投递 1 条消息。"
    [sent] = fake.sent_messages(touser="zhangwei", msgtype="template_card")
    assert sent["template_card"]["main_title"]["title"] == "🔴 商机升级：需要主管跟进"
    link = sent["template_card"]["card_action"]["url"]
    assert link.startswith(f"{server.base_url}/dash/home?t=")
    with Session(engine) as session:
        [row] = session.exec(select(Outbox)).all()
    assert row.status == "sent" and row.payload["card"]["link"][1] == "dash:home"
    engine.dispose()

    try:
        server.start()  # a new process, WeCom on and no link_secret: it starts, and knows the secret
        page = httpx.get(link.replace("/dash/", "/dash/api/"), timeout=10)
        assert page.status_code == 200 and page.json()["viewer"]["id"] == "zhangwei"
        tampered = link[:-1] + ("A" if link[-1] != "A" else "B")
        assert httpx.get(tampered, timeout=10).status_code == 403
    finally:
        server.stop()
