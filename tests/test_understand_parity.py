"""Issue 14's payment and advance sentences over the real WeCom and DingTalk protocols (fakes at the far side)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from store.models import Payment, StageChange
from tests.conftest import T0
from tests.conversation import seed_customer
from tests.test_channels_parity import PLATFORM_IDS, channel, fake, platform, settings  # noqa: F401 (fixtures)

EARLIER = T0 - timedelta(days=3)


def seed(runtime) -> tuple[int, int]:
    with Session(runtime.engine) as session:
        signed = seed_customer(session, "北京同创科技有限公司", aliases=["北京同创"], stage="合同签署", updated=EARLIER)
        early = seed_customer(session, "合肥卓越电子有限公司", aliases=["合肥卓越"], stage="需求确认", updated=EARLIER)
        return signed.id, early.id


def test_a_payment_in_a_sentence_is_recorded_on_both_platforms(runtime, channel, platform):  # noqa: F811
    lilei = PLATFORM_IDS[channel]["lilei"]
    signed, _ = seed(runtime)
    platform.send(lilei, "北京同创尾款50.2w今天到账了")
    runtime.work_once()
    assert platform.texts(lilei) == ["已录入「北京同创科技有限公司」回款 50.2万元。"]
    with Session(runtime.engine) as session:
        [payment] = session.exec(select(Payment)).all()
    assert (payment.opportunity_id, payment.amount, payment.rep_id) == (signed, 502_000, "lilei")


def test_an_advance_in_a_sentence_changes_the_stage_on_both_platforms(runtime, channel, platform):  # noqa: F811
    lilei = PLATFORM_IDS[channel]["lilei"]
    _, early = seed(runtime)
    platform.send(lilei, "今天推进了合肥卓越，到方案演示了")
    runtime.work_once()
    [asked] = platform.cards(lilei)
    assert asked.title == "「合肥卓越电子有限公司」这次是哪类行为？"
    platform.click(lilei, asked, next(t for t, label in zip(asked.tokens, asked.labels, strict=True)
                                      if label.startswith("产品演示")))
    runtime.work_once()
    with Session(runtime.engine) as session:
        changes = [(c.opportunity_id, c.from_stage, c.to_stage) for c in session.exec(select(StageChange)).all()]
    assert changes == [(early, "需求确认", "方案演示")]
