import pytest

from rules.health import Facts, score
from rules.loader import load_rules

RULES = load_rules()
DEMO = RULES.stages.stage("方案演示")  # yellow 5, escalate 7 → dwell reaches 0 at 14 days


@pytest.mark.parametrize(
    ("facts", "components", "total", "first_suggestion"),
    [
        (Facts(valid_touches=5, files=3, positive=["确认"], days_since_valid_touch=1, idle_days=1),
         {"touches": 35, "files": 15, "feedback": 25, "dwell": 20}, 95, None),
        (Facts(valid_touches=2, files=0, negative=["价格高", "价格高"], days_since_valid_touch=3, idle_days=2),
         {"touches": 14, "files": 0, "feedback": 4, "dwell": 20}, 38, "客户嫌价格高：发送 ROI 测算或分期付款方案"),
        (Facts(valid_touches=0, files=0, days_since_valid_touch=None, idle_days=3),
         {"touches": 0, "files": 0, "feedback": 20, "dwell": 20}, 40, "超过 10 天没有有效触达：安排拜访或线上会议"),
        (Facts(valid_touches=3, files=1, negative=["需要审批"], days_since_valid_touch=2, idle_days=9),
         {"touches": 21, "files": 5, "feedback": 12, "dwell": 11}, 49, "需要审批：确认审批流程和关键审批人，提前准备审批材料"),
        (Facts(valid_touches=4, files=2, days_since_valid_touch=12, idle_days=14),
         {"touches": 28, "files": 10, "feedback": 20, "dwell": 0}, 58, "超过 10 天没有有效触达：安排拜访或线上会议"),
        (Facts(negative=["价格高"] * 5, valid_touches=9, files=9, days_since_valid_touch=0),
         {"touches": 35, "files": 15, "feedback": 0, "dwell": 20}, 70, "客户嫌价格高：发送 ROI 测算或分期付款方案"),
    ],
    ids=["healthy", "price-objection", "never-touched", "approval-and-dwell", "idle-too-long", "feedback-floor"],
)
def test_score_components_and_first_suggestion(facts, components, total, first_suggestion):
    result = score(facts, DEMO, RULES.health)
    assert result.components == components
    assert result.score == total
    assert (result.suggestions[0] if result.suggestions else None) == first_suggestion


def test_at_most_three_suggestions_in_rule_file_order():
    facts = Facts(negative=["价格高", "预算不足", "需要审批", "再考虑"], files=0, idle_days=20)
    assert score(facts, DEMO, RULES.health).suggestions == [
        "客户嫌价格高：发送 ROI 测算或分期付款方案",
        "预算不足：拆分一期范围或改为分期采购",
        "需要审批：确认审批流程和关键审批人，提前准备审批材料",
    ]


def test_stage_without_thresholds_never_loses_dwell_points():
    won = RULES.stages.stage("赢单")
    assert score(Facts(idle_days=400), won, RULES.health).components["dwell"] == 20
