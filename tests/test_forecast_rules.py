from datetime import date, timedelta

import pytest

from rules import forecast as judge
from rules.loader import RulesError, load_rules
from tests.conftest import T0

RULES = load_rules().forecast


def claim(kind="poc_done", source="rep", evidence="link", hours_ago=1):
    return judge.Claim(kind, source, evidence, T0 - timedelta(hours=hours_ago))


@pytest.mark.parametrize(("made", "verdict"), [
    (claim(), judge.Verdict(True)),
    (claim(kind="made_up"), judge.Verdict(False, "未知信号类型")),
    (claim(source="system", evidence="system"), judge.Verdict(False, "该信号不能由系统提出")),
    (claim(kind="history_cycle", evidence="message"), judge.Verdict(False, "该信号不能由销售提出")),
    (claim(kind="press_mention", evidence="message"), judge.Verdict(False, "证据类型不符（需要：链接）")),
    (claim(hours_ago=721), judge.Verdict(False, "证据已过期（超过 720 小时）")),
    (claim(hours_ago=720), judge.Verdict(True)),
])
def test_signal_verification_rules(made, verdict):
    assert judge.verify(made, RULES, T0) == verdict


def test_fewer_than_two_distinct_valid_types_is_high_risk():
    assert judge.risk(["poc_done", "poc_done"], RULES) == "高风险"
    assert judge.risk(["poc_done", "legal_review"], RULES) is None


@pytest.mark.parametrize(("text", "evidence"), [
    ("见 https://example.com/news/1 的报道", ("link", "https://example.com/news/1")),
    ("法务审核意见.docx", ("file", "法务审核意见.docx")),
    ("客户IT部邮件确认对接排期", ("message", "客户IT部邮件确认对接排期")),
])
def test_typed_evidence_is_a_link_a_file_or_a_message(text, evidence):
    assert judge.evidence_of(text) == evidence


def test_from_the_25th_the_forecast_is_for_next_month():
    assert judge.period_of(date(2026, 12, 24), RULES) == "2026-12"
    assert judge.period_of(date(2026, 12, 25), RULES) == "2027-01"
    assert judge.previous_periods("2027-01", 3) == ["2026-12", "2026-11", "2026-10"]


def test_accuracy_floors_at_zero_and_deviation_must_exceed_25_percent():
    assert judge.accuracy(100, 70) == pytest.approx(0.7)
    assert judge.accuracy(100, 300) == 0.0
    assert judge.accuracy(0, 50) is None
    assert not judge.off(100, 75, RULES)  # exactly 25%
    assert judge.off(100, 74, RULES)
    assert not judge.off(100, 120, RULES)


def test_structure_is_the_sorted_set_of_roles():
    chain = [{"role": "设备科"}, {"role": "决策人"}, {"role": "设备科"}, {"name": "无角色"}]
    assert judge.structure(chain) == ("决策人", "设备科")


def test_a_system_signal_must_say_where_the_system_finds_it(tmp_path):
    (tmp_path / "forecast.yaml").write_text(
        "stages: [合同签署]\nsignals:\n  - {code: x, name: X, evidence: [system], fresh_hours: 1, asserted_by: [system]}\n",
        encoding="utf-8")
    with pytest.raises(RulesError) as error:
        load_rules(tmp_path)
    assert error.value.problems == [
        f"{tmp_path / 'forecast.yaml'}:signals[0]: asserted_by 含 system 时须写明 stages/touches/events/similarity 之一，反之不可写"]
