"""Issue 14's one-message lead over both platforms' real protocols (the fixtures of test_channels_parity)."""

from sqlmodel import Session, select

from store.models import Contact, Customer, Opportunity
from tests.test_channels_parity import PLATFORM_IDS, channel, fake, platform, settings  # noqa: F401 (fixtures)

LEAD = "新线索 杭州云启网络科技，互联网行业，预算80w，决策人是李总CIO，目前在方案评估"


def test_a_lead_typed_as_one_sentence_is_saved_with_every_field(runtime, channel, platform):  # noqa: F811
    lilei = PLATFORM_IDS[channel]["lilei"]
    platform.send(lilei, LEAD)
    runtime.work_once()
    [asked] = platform.cards(lilei)
    assert asked.title == "新线索 · 用户规模" and asked.labels == ("10万以下", "10万-1000万", "1000万以上")
    with Session(runtime.engine) as session:
        assert session.exec(select(Opportunity)).all() == []

    platform.click(lilei, asked, asked.token("10万-1000万"))
    runtime.work_once()
    assert [c.title for c in platform.cards(lilei)] == ["新线索 · 用户规模", "✅ 线索已保存 · 杭州云启网络科技"]
    with Session(runtime.engine) as session:
        [customer] = session.exec(select(Customer)).all()
        [opportunity] = session.exec(select(Opportunity)).all()
        [contact] = session.exec(select(Contact)).all()
    assert customer.name == "杭州云启网络科技"
    assert (opportunity.industry, opportunity.budget, opportunity.need_stage, opportunity.evidence) == (
        "互联网", 800_000, "方案评估", {"用户规模": "10万-1000万"})
    assert (contact.customer_id, contact.name, contact.title, contact.role) == (customer.id, "李总", "CIO", "决策人")
