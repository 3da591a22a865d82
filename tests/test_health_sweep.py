from datetime import timedelta

import pytest
from sqlmodel import Session, select

from scheduler import health
from store.db import session_scope
from store.models import Alert, HealthSnapshot, Opportunity, SimMessage
from tests.conftest import T0, TZ
from tests.pipeline_helpers import customer_of, feedback, opportunity, touch

DAY = timedelta(days=1)


def sweep(runtime, at):
    runtime.clock.set(at)
    with session_scope(runtime.engine) as session:
        written = health.run(session, at, runtime.rules, TZ)
    runtime.dispatcher.flush()
    return written


def cards(runtime, user="lilei"):
    with Session(runtime.engine) as session:
        return [m.payload["card"] for m in session.exec(
            select(SimMessage).where(SimMessage.user_id == user).order_by(SimMessage.id)).all()]


def test_low_score_sends_the_reasons_and_suggestions_once(runtime):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    customer = customer_of(runtime.engine, opp)
    touch(runtime.engine, customer_id=customer, at=T0 + DAY, kind="product_link")
    feedback(runtime.engine, customer_id=customer, keyword="价格高", polarity="negative", at=T0 + 2 * DAY)
    at = T0 + 3 * DAY + timedelta(hours=-8)  # 02:00 local: pushed when quiet hours end
    assert sweep(runtime, at) == 1
    assert cards(runtime) == []
    runtime.clock.set((T0 + 3 * DAY).replace(hour=8, minute=30))
    runtime.dispatcher.flush()
    [card] = cards(runtime)
    assert card["title"] == "🩺 商机健康度 39 分（低于 60）"
    assert card["lines"] == [
        "「华东医疗器械有限公司」一期项目 的健康度偏低，原因：",
        "· 有效触达 1 次（近 14 天）· 7/35",
        "· 发送文件 0 份 · 0/15",
        "· 客户反馈：价格高 · 12/30",
        "· 阶段停留 2 天 · 20/20",
        "建议：",
        "1. 客户嫌价格高：发送 ROI 测算或分期付款方案",
        "2. 最近没有发过资料：发送方案 PDF 或同行业案例",
    ]
    assert [b["label"] for b in card["buttons"]] == ["更新进展"]
    assert sweep(runtime, at + DAY) == 0  # still low: the rep already knows
    with Session(runtime.engine) as session:
        assert session.get(Opportunity, opp).health == 39
        assert [s.score for s in session.exec(select(HealthSnapshot)).all()] == [39]


def test_recovery_closes_the_alert_and_a_later_drop_warns_again(runtime):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    customer = customer_of(runtime.engine, opp)
    assert sweep(runtime, T0 + DAY) == 1
    for n in range(5):
        touch(runtime.engine, customer_id=customer, at=T0 + DAY + timedelta(hours=n + 1))
    assert sweep(runtime, T0 + 2 * DAY) == 0
    with Session(runtime.engine) as session:
        assert session.get(Opportunity, opp).health == 90  # touches 35, files 15, feedback 20, dwell 20
        [alert] = session.exec(select(Alert)).all()
        assert alert.resolved_by == "system"
    assert sweep(runtime, T0 + 20 * DAY) == 1  # touches aged out of the window, stage stalled


def test_many_low_opportunities_become_one_digest(runtime):
    for n in range(3):
        opportunity(runtime.engine, customer=f"客户{n}有限公司", at=T0)
    assert sweep(runtime, T0 + DAY) == 1
    [card] = cards(runtime)
    assert card["title"] == "商机健康度提醒（3 条）"
    assert card["lines"] == [f"🩺 客户{n}有限公司 · 40 分" for n in range(3)]


def test_bad_health_rules_are_refused_with_file_and_key(tmp_path):
    from rules.loader import RulesError, load_rules

    (tmp_path / "health.yaml").write_text(
        "threshold: 60\nwindow_days: 14\ncomponents:\n  touches: {max: 50, per_item: 7}\n"
        "  files: {max: 15, per_item: 5}\n  feedback: {max: 30, base: 20, per_negative: 3, per_positive: 5}\n"
        "  dwell: {max: 20}\nsuggestions:\n  - when: weather\n    text: x\n", encoding="utf-8")
    try:
        load_rules(tmp_path)
    except RulesError as exc:
        problems = exc.problems
    path = tmp_path / "health.yaml"
    assert f"{path}:components.feedback.per_negative: 应不大于 0" in problems
    assert any(p.startswith(f"{path}:suggestions[0].when: 格式不符（应匹配") for p in problems)


@pytest.mark.parametrize("idle", [0, 4, 5, 6, 9, 13, 14, 30])
@pytest.mark.parametrize(("valid", "files", "negative", "positive"), [(0, 0, 0, 0), (2, 1, 1, 0), (6, 4, 3, 2)])
def test_sql_score_agrees_with_the_reference_scoring(runtime, idle, valid, files, negative, positive):
    from rules.health import Facts, score
    from scheduler.health_score import scored

    at = T0 + 40 * DAY
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=at - timedelta(days=idle, hours=1))
    customer = customer_of(runtime.engine, opp)
    for n in range(max(valid, files)):
        touch(runtime.engine, customer_id=customer, at=at - timedelta(hours=n + 1),
              kind="pdf" if n < files else "product_link", valid=n < valid)
    for _ in range(negative):
        feedback(runtime.engine, customer_id=customer, keyword="价格高", polarity="negative", at=at - DAY)
    for _ in range(positive):
        feedback(runtime.engine, customer_id=customer, keyword="确认", polarity="positive", at=at - DAY)
    stmt, parts = scored(runtime.rules.health, runtime.rules.stages, at, Opportunity.id)
    with Session(runtime.engine) as session:
        _, *row = session.execute(stmt.where(Opportunity.id == opp)).one()
    reference = score(Facts(valid_touches=valid, files=files, negative=["价格高"] * negative,
                            positive=["确认"] * positive, idle_days=idle),
                      runtime.rules.stages.stage("方案演示"), runtime.rules.health)
    assert dict(zip(parts, row, strict=True)) == reference.components
