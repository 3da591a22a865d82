from datetime import UTC, datetime

import pytest

from rules.loader import load_rules
from rules.touches import Sighting, classify, fingerprints, invitation_number, normalise_url

RULES = load_rules().touches
AT = datetime(2026, 12, 1, 2, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(("sighting", "kind", "valid"), [
    (Sighting("text", text="产品介绍 https://liuhen.example.com/p/1 请看"), "product_link", True),
    (Sighting("link", url="https://docs.liuhen.example.com/case", title="案例"), "product_link", True),
    (Sighting("text", text="会议链接 https://meeting.tencent.com/dm/abc"), "meeting", True),
    (Sighting("text", text="钉钉会议 https://meeting.dingtalk.com/j/xyz"), "meeting", True),
    (Sighting("link", url="https://vc.feishu.cn/j/123"), "meeting", True),
    (Sighting("text", text="Zoom: https://us02web.zoom.us/j/999"), "meeting", True),
    (Sighting("meeting", text="方案沟通会"), "meeting", True),
    (Sighting("file", filename="华东医疗-方案.PDF"), "pdf", True),
    (Sighting("file", filename="方案", content_type="application/pdf; charset=binary"), "pdf", True),
    (Sighting("file", filename="scan.bin", head=b"%PDF-1.7\n"), "pdf", True),
    (Sighting("file", filename="报价.xlsx"), "file", False),
    (Sighting("file", filename="fake.bin", head=b"PK\x03\x04", content_type="application/pdf"), "file", False),
    (Sighting("image"), "file", False),
    (Sighting("text", text="好的，明天联系"), "message", False),
    (Sighting("text", text="看看 https://news.example.org/a"), "message", False),
    (Sighting("text", text="https://evil-liuhen.example.com.attacker.io/x"), "message", False),
])
def test_classify(sighting, kind, valid):
    verdict = classify(sighting, RULES)
    assert (verdict.kind, verdict.valid) == (kind, valid)


def test_meeting_wins_over_product_link_and_labels_come_from_the_rules():
    verdict = classify(Sighting("text", text="https://liuhen.example.com/a https://meeting.tencent.com/dm/x"), RULES)
    assert (verdict.kind, verdict.url, verdict.label(RULES)) == ("meeting", "https://meeting.tencent.com/dm/x", "视频会议")


def test_url_normalisation_drops_tracking_fragment_and_case():
    assert normalise_url("HTTPS://Liuhen.Example.com/p/1/?utm_source=wx&id=3#top") == "https://liuhen.example.com/p/1?id=3"


def test_fingerprint_matches_the_same_action_a_minute_either_side_only():
    sighting = Sighting("text", text="https://liuhen.example.com/p/1?utm_source=a")
    verdict = classify(sighting, RULES)
    mine, _ = fingerprints("lilei", verdict, sighting, AT)
    later = Sighting("link", url="https://liuhen.example.com/p/1/")
    _, near = fingerprints("lilei", classify(later, RULES), later, AT.replace(minute=1, second=5))
    _, far = fingerprints("lilei", classify(later, RULES), later, AT.replace(minute=3))
    _, other_rep = fingerprints("hanmeimei", classify(later, RULES), later, AT)
    assert mine in near and mine not in far and mine not in other_rep


TENCENT = """李雷 邀请您参加腾讯会议
会议主题：华东医疗方案沟通
会议时间：2026/12/05 14:00-15:00 (GMT+08:00) 中国标准时间 - 北京

#腾讯会议：876-543-210
会议密码：2468"""
DINGTALK = "邀请你参加钉钉视频会议\n会议主题：需求澄清\n会议时间：12月5日 10:00\n会议号：123 456 789"
FEISHU = "李雷邀请你参加飞书视频会议\n会议主题：POC 复盘\n会议 ID：987 654 321"
ZOOM = "Li Lei is inviting you to a scheduled Zoom meeting.\nTopic: Demo\nMeeting ID: 869 1234 5678\nPasscode: 1234"


@pytest.mark.parametrize(("text", "number"), [
    ("#腾讯会议：876-543-210", "876543210"),
    (TENCENT, "876543210"),
    (DINGTALK, "123456789"),
    (FEISHU, "987654321"),
    (ZOOM, "86912345678"),
    ("腾讯会议 876543210 下午两点", "876543210"),
])
def test_a_meeting_invitation_without_a_link_is_a_meeting(text, number):
    assert invitation_number(text, RULES) == number
    assert classify(Sighting("text", text=text), RULES).kind == "meeting"


@pytest.mark.parametrize("text", [
    "腾讯会议明天再约",  # a platform named, no number
    "订单号 876-543-210 已发货",  # a number, no platform
    "会议号还没定，钉钉上通知",
    "开完腾讯会议后打我电话，会上说的报价 1,200,000 元",  # no meeting number after the cue
])
def test_text_that_only_mentions_a_meeting_or_a_number_is_a_message(text):
    assert classify(Sighting("text", text=text), RULES).kind == "message"
