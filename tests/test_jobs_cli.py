"""`liuhen jobs run` then `liuhen outbox flush`: a sweep run by hand behaves as under the scheduler, evaluated as of
`--at`, its pushes due at the real time and its dashboard links signed when delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sqlmodel import Session, select

from bot.cli import main
from bot.links import LinkSigner
from scheduler.registry import JOBS
from scheduler.runner import run_sweep
from store import server_secrets
from store.db import session_scope
from store.models import CompanyEvent, Outbox
from tests.conftest import DATA, T0, TZ, daytime_zone
from tests.fakes.company_data_server import CompanyDataServer
from tests.pipeline_helpers import opportunity
from tests.wecom_helpers import AES_KEY, TOKEN, fake  # noqa: F401 (fixture)

DAY = timedelta(days=1)
PUBLIC_URL = "https://liuhen.example.com"


def config_for(tmp_path: Path, db_url: str, fake) -> Path:  # noqa: F811 (the fixture's value)
    """A production-shaped config with WeCom pointed at the fake and no link_secret, as CONTRACT.md allows."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "timezone": daytime_zone(), "database": {"url": db_url}, "server": {"public_url": PUBLIC_URL},
        "wecom": {"enabled": True, "corp_id": fake.corp_id, "agent_id": fake.agent_id, "secret": fake.secret,
                  "token": TOKEN, "encoding_aes_key": AES_KEY, "api_base": fake.base_url},
    }), encoding="utf-8")
    return path


def org(engine) -> None:
    from bot import orgfile

    teams, users = orgfile.parse(DATA / "org.yaml")
    with session_scope(engine) as session:
        orgfile.apply(session, teams, users)


def test_a_hand_run_escalation_for_a_future_instant_is_flushed_at_once_with_a_link_signed_for_the_manager(
        tmp_path, db_url, engine, fake, capsys):  # noqa: F811
    org(engine)
    config = config_for(tmp_path, db_url, fake)
    at = datetime.now(UTC) + 2 * DAY
    opportunity(engine, customer="华东医疗器械有限公司", at=at - 10 * DAY)

    assert main(["jobs", "run", "stage_lights", "--at", at.isoformat(), "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip().endswith("写入 1 条。")
    with Session(engine) as session:
        [row] = session.exec(select(Outbox)).all()
    assert row.user_id == "zhangwei" and row.payload["card"]["link"] == ["打开团队看板", "dash:home"]
    assert row.next_attempt_at <= datetime.now(UTC)

    assert main(["outbox", "flush", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "已投递 1 条消息。"
    [sent] = fake.sent_messages(touser="zhangwei", msgtype="template_card")
    card = sent["template_card"]
    assert card["main_title"]["title"] == "🔴 商机升级：需要主管跟进"
    url = card["card_action"]["url"]
    assert url.startswith(f"{PUBLIC_URL}/dash/home?t=")
    with session_scope(engine) as session:
        secret = server_secrets.get_or_create(session, server_secrets.LINK_SECRET)
    grant = LinkSigner(secret.encode(), PUBLIC_URL).verify(url.partition("?t=")[2], "home", datetime.now(UTC))
    assert grant.viewer == "zhangwei" and grant.expires_at > datetime.now(UTC) + 6 * DAY
    with Session(engine) as session:
        delivered = session.get(Outbox, row.id)
    assert delivered.status == "sent" and delivered.payload["card"]["link"] == ["打开团队看板", "dash:home"]


def test_a_hand_run_sweep_is_due_at_the_real_time_and_quiet_hours_hold_at_the_real_time(runtime, engine):
    job = JOBS["stage_lights"]
    opportunity(engine, customer="华东医疗器械有限公司", at=T0)
    opportunity(engine, customer="华北制药集团", owner="hanmeimei", at=T0 + DAY)
    evening = datetime(2026, 12, 1, 22, 0, tzinfo=TZ)
    assert run_sweep(engine, job, T0 + 5 * DAY, runtime.rules, TZ, now=evening) == 1
    assert run_sweep(engine, job, T0 + 6 * DAY, runtime.rules, TZ, now=T0) == 1
    with Session(engine) as session:
        due = [(r.user_id, r.next_attempt_at.astimezone(TZ)) for r in session.exec(select(Outbox).order_by(Outbox.id))]
    assert due == [("lilei", datetime(2026, 12, 2, 8, 30, tzinfo=TZ)), ("hanmeimei", T0)]


def test_the_scheduler_queues_at_its_own_instant_as_before(runtime, engine):
    opportunity(engine, customer="华东医疗器械有限公司", at=T0)
    late = (T0 + 5 * DAY).replace(hour=22)
    assert run_sweep(engine, JOBS["stage_lights"], late, runtime.rules, TZ) == 1
    with Session(engine) as session:
        [row] = session.exec(select(Outbox)).all()
    assert row.next_attempt_at.astimezone(TZ) == (T0 + 6 * DAY).replace(hour=8, minute=30)



def test_jobs_run_company_events_fetches_from_the_provider_first_as_the_scheduler_does(tmp_path, db_url, engine,
                                                                                    capsys):
    org(engine)
    opportunity(engine, customer="华东医疗器械有限公司", stage="商务谈判", at=T0)
    with CompanyDataServer() as provider:
        provider.company("华东医疗器械有限公司", "c1",
                         {"id": "e1", "kind": "高管变动", "title": "CTO变更：王强→赵敏", "date": "2026-11-30"})
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"database": {"url": db_url}, "company_data": {
            "provider": "tianyancha", "base_url": provider.base_url, "token": "test-token"}}), encoding="utf-8")
        assert main(["jobs", "run", "company_events", "--at", T0.isoformat(), "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip().endswith("写入 1 条。")
    with Session(engine) as session:
        assert [e.title for e in session.exec(select(CompanyEvent))] == ["CTO变更：王强→赵敏"]
