from datetime import timedelta

from sqlmodel import Session, select

from bot.cli import main
from scheduler import retention
from store import inbox
from store.db import session_scope
from store.models import AuditLog, Contact, Customer, FeedbackHit, Message, Opportunity, Touch
from tests.conftest import T0, TZ
from tests.pipeline_helpers import customer_of, feedback, opportunity, touch


def config_for(tmp_path, db_url):
    path = tmp_path / "config.yaml"
    path.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    return path


def test_purge_removes_personal_data_and_audits_the_fact_only(runtime, tmp_path, db_url, capsys):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    customer = customer_of(runtime.engine, opp)
    touch(runtime.engine, customer_id=customer, at=T0)
    feedback(runtime.engine, customer_id=customer, keyword="价格高", polarity="negative", at=T0)
    with session_scope(runtime.engine) as session:
        session.add(Contact(customer_id=customer, name="王明", title="CTO", updated_at=T0))
        row = session.get(Opportunity, opp)
        row.decision_chain = [{"name": "王明", "title": "CTO", "role": "决策人"}]
        row.amount = 800_000
    config = config_for(tmp_path, db_url)
    assert main(["customer", "purge", "华东医疗器械有限公司", "--actor", "boss", "--config", str(config)]) == 0
    assert "联系人 1 个" in capsys.readouterr().out
    with Session(runtime.engine) as session:
        kept = session.get(Customer, customer)
        assert (kept.name, kept.aliases) == (f"已删除客户#{customer}", [])
        assert session.exec(select(Contact)).all() == [] and session.exec(select(FeedbackHit)).all() == []
        opportunity_row = session.get(Opportunity, opp)
        assert (opportunity_row.decision_chain, opportunity_row.amount) == ([], 800_000)
        assert session.exec(select(Touch)).one().url is None
        [audit] = session.exec(select(AuditLog)).all()
    assert (audit.actor, audit.action, audit.target, audit.detail) == ("boss", "customer.purge",
                                                                      f"customer:{customer}", {})
    assert "华东" not in str(audit.model_dump())


def test_purging_an_unknown_customer_exits_2(tmp_path, db_url, runtime, capsys):
    assert main(["customer", "purge", "不存在的公司", "--config", str(config_for(tmp_path, db_url))]) == 2
    assert capsys.readouterr().err.strip() == "没有名为「不存在的公司」的客户（请用完整名称）"


def test_retention_blanks_old_raw_text_but_keeps_the_row_for_dedupe(runtime):
    for n, age in enumerate([200, 10]):
        inbox.store_inbound_committed(runtime.engine, channel="wecom", msg_id=f"m{n}", kind="text",
                                      received_at=T0 - timedelta(days=age), event={"text": "王总手机 138…"},
                                      sender="lilei", text="王总手机 138…")
    with session_scope(runtime.engine) as session:
        for row in session.exec(select(Message)).all():
            row.processed_at = row.received_at
        session.flush()
        assert retention.run(session, T0, runtime.rules, TZ) == 1
    with Session(runtime.engine) as session:
        rows = session.exec(select(Message).order_by(Message.id)).all()
    assert [(r.msg_id, r.text) for r in rows] == [("m0", None), ("m1", "王总手机 138…")]
    assert inbox.store_inbound_committed(runtime.engine, channel="wecom", msg_id="m0", kind="text",
                                         received_at=T0, event={}, sender="lilei") is None
