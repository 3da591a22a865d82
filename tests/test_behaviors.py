from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.app import create_app
from bot.charts import cjk_font, covers
from rules import behaviors as pricing
from rules.loader import load_rules
from scheduler import behaviors as sweeps
from store.db import session_scope
from store.models import BehaviorLog, BehaviorType, OnboardingTask, Outbox, Redemption, SimMessage
from tests.conftest import T0, TZ
from tests.pipeline_helpers import opportunity


@pytest.fixture
def client(runtime):
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def say(client, user, text):
    return client.post("/sim/api/send", json={"user": user, "text": text}).json()["messages"]


def last_text(messages):
    return messages[-1]["payload"].get("text") or messages[-1]["payload"]["card"]["title"]


def test_logging_a_behavior_binds_points_to_the_opportunity(runtime, client):
    opp = opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    reply = last_text(say(client, "lilei", "行为 华东医疗器械有限公司 定制化解决方案"))
    assert reply == "✅ 已记录行为：定制化解决方案 +12 分（方案设计），绑定商机「华东医疗器械有限公司」。本月累计 12 分。"
    reply = last_text(say(client, "lilei", "行为 华东医疗器械有限公司 痛点深度访谈"))
    assert reply.endswith("本月累计 17 分。")
    with Session(runtime.engine) as session:
        logs = session.exec(select(BehaviorLog).order_by(BehaviorLog.id)).all()
    assert [(log.rep_id, log.opportunity_id, log.points) for log in logs] == [("lilei", opp, 12), ("lilei", opp, 5)]


def tap(client, card, label, user="lilei"):
    [key] = [b["key"] for b in card["buttons"] if b["label"] == label]
    return client.post("/sim/api/click", json={"user": user, "key": key}).json()["messages"]


def buttons(messages):
    return [b["label"] for b in messages[-1]["payload"]["card"]["buttons"]]


def test_unknown_behavior_offers_the_likely_few_then_the_rest_by_category(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    asked = say(client, "lilei", "行为 华东医疗器械有限公司 喝茶")
    assert buttons(asked) == ["定制化解决方案 +12", "产品演示 +6", "技术方案攻坚 +10", "其他行为…"]  # 方案演示's own
    categories = tap(client, asked[-1]["payload"]["card"], "其他行为…")
    assert buttons(categories) == ["客户洞察", "方案设计", "关系推进", "生态协同", "商务推进"]
    relations = tap(client, categories[-1]["payload"]["card"], "关系推进")
    assert buttons(relations) == ["跨部门共识会 +18", "高层拜访 +10", "技术总监答疑 +8", "标杆客户参访 +12"]
    done = tap(client, relations[-1]["payload"]["card"], "高层拜访 +10")
    assert done[-1]["payload"]["text"].startswith("✅ 已记录行为：高层拜访 +10 分（关系推进）")
    with Session(runtime.engine) as session:
        assert [log.points for log in session.exec(select(BehaviorLog)).all()] == [10]


def test_the_behaviors_a_rep_logs_most_come_first_after_the_stages_own(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    for _ in range(2):
        say(client, "lilei", "行为 华东医疗器械有限公司 标杆客户参访")
    assert buttons(say(client, "lilei", "行为 华东医疗器械有限公司 喝茶")) == [
        "定制化解决方案 +12", "产品演示 +6", "技术方案攻坚 +10", "标杆客户参访 +12", "其他行为…"]


@pytest.mark.parametrize(("typed", "logged"), [
    ("痛点访谈", "痛点深度访谈"),  # a near name
    ("客户痛点访谈", "痛点深度访谈"),  # the new-rep task's name for it
    ("ROI测算", "ROI测算模型"),  # a unique part
])
def test_a_behavior_typed_by_a_near_name_is_logged(runtime, client, typed, logged):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    assert last_text(say(client, "lilei", f"行为 华东医疗器械有限公司 {typed}")).startswith(f"✅ 已记录行为：{logged} +")


def test_quarter_switch_keeps_points_earned_under_the_old_version(runtime, client, tmp_path):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    say(client, "lilei", "行为 华东医疗器械有限公司 定制化解决方案")
    text = (load_rules().behaviors.model_dump_json())
    import json

    data = json.loads(text)
    new = json.loads(json.dumps(data["versions"][0]))
    new["quarter"], new["effective"] = "2027Q1", "2027-01-01"
    next(b for b in new["behaviors"] if b["code"] == "custom_solution")["points"] = 15
    data["versions"].append(new)
    import yaml

    (tmp_path / "behaviors.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    runtime.rules = load_rules(tmp_path)
    runtime.inbox.rules = runtime.rules
    runtime.clock.set(T0.replace(year=2027, month=1, day=5))
    say(client, "lilei", "行为 华东医疗器械有限公司 定制化解决方案")
    with Session(runtime.engine) as session:
        rows = session.exec(select(BehaviorLog, BehaviorType).join(BehaviorType).order_by(BehaviorLog.id)).all()
    assert [(t.quarter, log.points) for log, t in rows] == [("2026Q4", 12), ("2027Q1", 15)]
    assert pricing.diff(runtime.rules.behaviors, "2026Q4", "2027Q1") == [
        "~ 调整 定制化解决方案：方案设计 12 分 → 定制化解决方案：方案设计 15 分"]


def test_ranking_orders_by_total_and_ties_share_a_rank():
    totals = {"a": {"客户洞察": 10}, "b": {"方案设计": 12}, "c": {"关系推进": 10}, "d": {"生态协同": 3}}
    names = {"a": "安", "b": "白", "c": "陈", "d": "丁"}
    assert [(s.rank, s.rep, s.total) for s in pricing.rank(totals, names)] == [
        (1, "b", 12), (2, "a", 10), (2, "c", 10), (4, "d", 3)]


def test_leaderboard_shows_top10_lines_and_only_my_own_breakdown(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    opportunity(runtime.engine, customer="华北能源集团", owner="hanmeimei", at=T0)
    say(client, "lilei", "行为 华东医疗器械有限公司 定制化解决方案")
    say(client, "lilei", "行为 华东医疗器械有限公司 痛点深度访谈")
    messages = say(client, "lilei", "排行榜")
    week, month, picture = [m["payload"] for m in messages[-3:]]
    assert week["card"]["lines"] == ["1. 李雷 17 分：方案设计12 · 客户洞察5"]
    assert week["card"]["note"] == "您：第 1 名 · 17 分（方案设计12 · 客户洞察5）"
    assert month["card"]["title"].startswith("🏆 行为积分排行榜 · 本月 2026-12")
    assert picture["chart"]["type"] == "heatmap" and picture["image_b64"]
    other = say(client, "hanmeimei", "排行榜")[-3]["payload"]["card"]  # another team: no sight of 李雷
    assert other["lines"] == ["这个周期还没有人记录行为。"]
    assert other["note"] == "您本期还没有记录行为，发送「行为 <客户> <行为名>」开始积分。"


def test_heatmap_labels_render_with_the_cjk_font(runtime):
    labels = ["客户洞察", "方案设计", "关系推进", "生态协同", "商务推进", "李雷", "韩梅梅"]
    assert covers(cjk_font(), "".join(labels))
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    latin = FT2Font(font_manager.findfont("DejaVu Sans")).get_charmap()
    assert not any(ord(ch) in latin for ch in "客户洞察")  # the default font would have drawn boxes


def test_redemption_is_refused_over_balance_and_approved_by_the_manager(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    refused = last_text(say(client, "lilei", "兑换 海外展会名额"))
    assert refused == "积分不足：当前可用 0 分，兑换「海外展会名额」需要 100 分。"
    for _ in range(9):
        say(client, "lilei", "行为 华东医疗器械有限公司 定制化解决方案")
    asked = last_text(say(client, "lilei", "兑换 海外展会名额"))
    assert asked == "已提交兑换「海外展会名额」（100 分）的申请，等待主管 张伟 审批。可用积分暂扣为 8 分。"
    assert last_text(say(client, "lilei", "兑换 海外展会名额")) == \
        "积分不足：当前可用 8 分，兑换「海外展会名额」需要 100 分。"
    with Session(runtime.engine) as session:
        card = session.exec(select(SimMessage).where(SimMessage.user_id == "zhangwei")).one()
    key = card.payload["card"]["buttons"][0]["key"]
    client.post("/sim/api/click", json={"user": "zhangwei", "key": key, "card_ref": str(card.id)})
    with Session(runtime.engine) as session:
        assert session.exec(select(Redemption)).one().status == "approved"
        told = session.exec(select(SimMessage).where(SimMessage.user_id == "lilei")
                            .order_by(SimMessage.id.desc())).first()
    assert told.payload["text"] == "主管 张伟 已同意您兑换「海外展会名额」。"


def test_new_rep_tasks_are_pushed_and_completion_unlocks_exactly_once(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    with session_scope(runtime.engine) as session:
        assert sweeps.onboarding(session, T0, runtime.rules, TZ) == 1  # 李雷 joined 2026-11-02
        assert sweeps.onboarding(session, T0 + timedelta(days=1), runtime.rules, TZ) == 0
    runtime.dispatcher.flush()
    for name in ["痛点深度访谈"] * 3 + ["简易方案框架"]:
        assert "恭喜" not in last_text(say(client, "lilei", f"行为 华东医疗器械有限公司 {name}"))
    done = say(client, "lilei", "行为 华东医疗器械有限公司 简易方案框架")
    assert done[-1]["payload"]["text"] == "🎉 恭喜完成新人行为导航任务，已解锁「进阶培训」！"
    again = say(client, "lilei", "行为 华东医疗器械有限公司 简易方案框架")
    assert "恭喜" not in last_text(again)
    with Session(runtime.engine) as session:
        tasks = session.exec(select(OnboardingTask).order_by(OnboardingTask.id)).all()
        to_manager = session.exec(select(Outbox).where(Outbox.user_id == "zhangwei")).all()
    assert [(t.code, t.progress, t.completed_at is not None) for t in tasks] == [
        ("pain_interviews", 3, True), ("solution_drafts", 2, True)]
    assert [m.payload["text"] for m in to_manager] == ["李雷 已完成新人行为导航任务，解锁「进阶培训」。"]


def test_weekly_leaderboard_sweep_reaches_each_member_once(runtime, client):
    opportunity(runtime.engine, customer="华东医疗器械有限公司", at=T0)
    say(client, "lilei", "行为 华东医疗器械有限公司 定制化解决方案")
    monday = T0 + timedelta(days=6)  # 2026-12-07 is a Monday
    assert monday.date() == date(2026, 12, 7)
    with session_scope(runtime.engine) as session:
        first = sweeps.leaderboard(session, monday, runtime.rules, TZ)
        again = sweeps.leaderboard(session, monday, runtime.rules, TZ)
    assert (first, again) == (4, 0)  # 华东一组: 李雷 + 张伟; 华北一组: 韩梅梅 + 刘洋
    with Session(runtime.engine) as session:
        rows = {r.user_id: r.payload["card"] for r in session.exec(select(Outbox).where(
            Outbox.dedupe_key.like("leaderboard:%"))).all()}
    assert rows["lilei"]["lines"] == ["1. 李雷 12 分：方案设计12"]
    assert rows["lilei"]["note"] == "您：第 1 名 · 12 分（方案设计12）"
    assert rows["zhangwei"]["note"] is None
    assert rows["hanmeimei"]["lines"] == ["这个周期还没有人记录行为。"]


def test_rules_diff_cli_reads_like_a_review(capsys):
    from bot.cli import main

    assert main(["rules", "diff", "behaviors", "2026Q4", "2026Q4"]) == 0
    assert capsys.readouterr().out.strip() == "2026Q4 与 2026Q4 的行为价值图谱没有差异。"
    assert main(["rules", "diff", "behaviors", "2026Q4", "2030Q1"]) == 2
    assert capsys.readouterr().err.strip() == "behaviors.yaml: versions: 没有季度 2030Q1（可用：2026Q4）"
