"""日报速记 with the issue-14 day: feedback categories with their words, unlisted rivals, titles, amounts, clean 诉求."""

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.cli import main
from store.models import Contact, DailyReport, FeedbackHit, Todo
from tests.conftest import T0
from tests.conversation import click, last_card, say, seed_customer

TONGCHUANG = "北京同创科技有限公司"
DAY = [
    "北京同创李总 CFO说项目往后放放，钱不够",
    "北京同创那边说人家报得比我们低，友商云杉科技报价更低",
    "北京同创担心售后响应慢，一线说操作太复杂",
    "北京同创预算80万，预计12月20号签",
    "北京同创设备科测算了一下，方案发给他们了，价格不贵，不用走审批",
    "周五前给北京同创发报价",
]
FEEDBACK = ("1.决策延迟「往后放放」（负面）  2.预算不足「钱不够」（负面）  3.竞品更便宜「报得比我们低」（负面）  "
            "4.售后担忧「售后响应慢」（负面）  5.操作复杂「操作太复杂」（负面）")


@pytest.fixture
def client(runtime):
    with Session(runtime.engine) as session:
        seed_customer(session, TONGCHUANG, aliases=["北京同创"], stage="商务谈判", updated=T0)
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def test_the_draft_shows_categories_with_words_rivals_titles_amounts_and_no_junk(client):
    for text in DAY:
        say(client, text)
    fields = dict(last_card(say(client, "日报速记"))["fields"])
    assert fields["反馈"] == FEEDBACK  # 不贵 and 不用走审批 are no objections
    assert fields["竞品"] == "1.云杉科技"
    assert fields["决策链"] == f"1.李总（CFO，{TONGCHUANG}）"
    assert fields["金额"] == "1.预算80万"
    assert fields["诉求"] == "1.方案  2.报价"  # not 设备, 测算, 发给, 预计


def test_the_confirmed_report_and_its_export_keep_the_same_evidence(runtime, client, db_url, tmp_path, capsys):
    for text in DAY:
        say(client, text)
    filed = click(client, last_card(say(client, "日报速记")), "确认提交")
    assert any("日报已提交" in (m.get("text") or "") for m in filed)
    with Session(runtime.engine) as session:
        report = session.exec(select(DailyReport)).one()
        hits = session.exec(select(FeedbackHit).order_by(FeedbackHit.id)).all()
        assert [(h.keyword, h.polarity) for h in hits] == [
            ("决策延迟", "negative"), ("预算不足", "negative"), ("竞品更便宜", "negative"), ("售后担忧", "negative"),
            ("操作复杂", "negative")]
        assert session.exec(select(Contact).where(Contact.name == "李总")).one().title == "CFO"
        assert [t.text for t in session.exec(select(Todo)).all()] == ["给北京同创发报价"]  # the signing date is no todo
    assert report.keywords == ["方案", "报价"]
    assert [t["text"] for t in report.todos] == ["给北京同创发报价"]
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: {json.dumps(db_url)}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["export", "reports", "--config", str(config)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert [(f["keyword"], f["words"]) for f in row["feedback"]] == [
        ("决策延迟", ["往后放放"]), ("预算不足", ["钱不够"]), ("竞品更便宜", ["报得比我们低"]),
        ("售后担忧", ["售后响应慢"]), ("操作复杂", ["操作太复杂"])]
    assert row["competitors"] == ["云杉科技"]
    assert [(c["name"], c["title"]) for c in row["contacts"]] == [("李总", "CFO")]
    assert row["amounts"] == [{"text": "预算80万", "value": 800_000}]
    assert (row["keywords"], row["value_score"]) == (["方案", "报价"], report.value_score)
