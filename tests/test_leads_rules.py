from datetime import date

import pytest

from bot.cli import main
from handlers.leads import draft, vocabulary
from nlp.amounts import parse_amount
from nlp.leads import parse_lead
from rules import leads
from rules.loader import DEFAULTS_DIR, load_rules

RULES = load_rules().leads


def parse(text: str):
    parsed = parse_lead(text, vocabulary(RULES))
    return parsed.customer, draft(parsed, RULES), parsed.unknown


def test_one_line_intake_pulls_every_field_it_names():
    customer, lead, unknown = parse("华东医疗器械 医疗 预算800万 决策人王总CTO 需求阶段:方案评估 医院等级：三甲 闲话")
    assert customer == "华东医疗器械" and unknown == ["闲话"]
    assert (lead["industry"], lead["budget"], lead["budget_band"], lead["need_stage"]) == (
        "医疗", 8_000_000, "百万级", "方案评估")
    assert lead["decision_chain"] == [{"name": "王总", "title": "CTO", "role": "决策人"}]
    assert lead["evidence"] == {"医院等级": "三甲"}
    assert leads.missing(lead, RULES) == ["role:设备科"]


def test_industry_aliases_band_names_and_bare_need_stages_are_understood():
    _, lead, _ = parse("某高校 学校 千万级 招标采购")
    assert (lead["industry"], lead["budget"], lead["budget_band"], lead["need_stage"]) == (
        "教育", None, "千万级", "招标采购")
    assert leads.missing(lead, RULES) == ["decision_chain", "role:教务处", "role:信息中心", "role:分管校长"]


@pytest.mark.parametrize(("amount", "band"), [
    (999_999, "百万以下"), (1_000_000, "百万级"), (20_000_000, "千万级"), (100_000_000, "亿级"),
])
def test_budget_bands(amount, band):
    assert leads.budget_band(amount, RULES) == band


@pytest.mark.parametrize(("text", "person"), [
    ("王总CTO", ("王总", "CTO")), ("王总 CTO", ("王总", "CTO")), ("张处长 教务处长", ("张处长", "教务处长")),
    ("李明 技术负责人", ("李明", "技术负责人")), ("李明", ("李明", "")),
])
def test_split_person(text, person):
    assert leads.split_person(text, RULES.titles) == person


def test_tag_follows_the_template():
    lead = leads.empty_lead() | {"industry": "教育", "budget_band": "千万级",
                                 "decision_chain": [{"name": "王总", "title": "CTO", "role": "决策人"}]}
    assert leads.tag(lead, RULES) == "教育行业-千万级预算-CTO决策"


def test_stage_gate_asks_only_its_fields_and_parses_dates():
    lead = leads.empty_lead() | {"industry": "制造业"}
    assert leads.missing(lead, RULES, ["amount", "expected_close"]) == ["amount", "expected_close"]
    assert leads.apply_answer("expected_close", "2027-01-15", lead, RULES, amount_of=parse_amount,
                              date_of=lambda text: date.fromisoformat(text)) is None
    assert lead["expected_close"] == "2027-01-15"


def check(tmp_path, capsys, files: dict[str, str]) -> tuple[int, list[str]]:
    rules = tmp_path / "rules"
    rules.mkdir(parents=True)
    for name, body in files.items():
        (rules / name).write_text(body, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"rules_dir: {rules}\n", encoding="utf-8")
    code = main(["rules", "check", "--config", str(config)])
    return code, [line.removeprefix(f"{rules}/") for line in capsys.readouterr().err.strip().splitlines()]


def test_shipped_leads_and_touches_files_pass_and_ship_eight_industries(tmp_path, capsys):
    assert check(tmp_path, capsys, {})[0] == 0
    assert len(RULES.industries) >= 8 and (DEFAULTS_DIR / "touches.yaml").is_file()


def test_bad_leads_file_names_file_and_key(tmp_path, capsys):
    default = (DEFAULTS_DIR / "leads.yaml").read_text(encoding="utf-8")
    broken = (default.replace("  - key: amount\n", "  - key: colour\n")
              .replace("  - {name: 百万级, below: 10000000,", "  - {name: 百万级, below: 100,")
              .replace('tag_template: "{industry}行业', 'tag_template: "{region}行业')
              .replace("aliases: [学校, 高校, 教育行业]", "aliases: [学校, 医院]"))
    code, errors = check(tmp_path, capsys, {"leads.yaml": broken})
    assert code == 2
    assert errors == [
        "leads.yaml:fields: 未知字段：colour（可用：industry、budget、decision_chain、need_stage、amount、expected_close）",
        "leads.yaml:budget_bands: 预算区间须按 below 从小到大排列",
        "leads.yaml:tag_template: 标签模板只能使用 {industry}、{budget_band}、{decision_title}、{need_stage}",
        "leads.yaml:industries: 行业名称、别名或关键词重复：医院",
    ]


def test_unknown_keys_in_leads_file_are_refused(tmp_path, capsys):
    default = (DEFAULTS_DIR / "leads.yaml").read_text(encoding="utf-8")
    broken = default.replace("    label: 客户行业\n", "    label: 客户行业\n    colour: red\n")
    assert check(tmp_path, capsys, {"leads.yaml": broken}) == (2, ["leads.yaml:fields[0].colour: 未知的键"])


def test_required_fields_must_be_defined(tmp_path, capsys):
    default = (DEFAULTS_DIR / "leads.yaml").read_text(encoding="utf-8")
    broken = default.replace("required: [industry,", "required: [amount_x, industry,")
    assert check(tmp_path, capsys, {"leads.yaml": broken}) == (
        2, ["leads.yaml:-: required 中的字段未在 fields 中定义：amount_x"])


def test_an_industry_keyword_may_name_only_one_industry(tmp_path, capsys):
    default = (DEFAULTS_DIR / "leads.yaml").read_text(encoding="utf-8")
    broken = default.replace("keywords: [超市,", "keywords: [银行, 超市,")
    assert check(tmp_path, capsys, {"leads.yaml": broken}) == (2, ["leads.yaml:industries: 行业名称、别名或关键词重复：银行"])


def test_need_stage_phrases_must_name_a_need_stage_and_say_only_one(tmp_path, capsys):
    default = (DEFAULTS_DIR / "leads.yaml").read_text(encoding="utf-8")
    unknown = default.replace("  需求调研: [调研,", "  需求确认: [调研,")
    assert check(tmp_path, capsys, {"leads.yaml": unknown}) == (
        2, ["leads.yaml:-: need_stage_phrases 中的需求阶段不在 need_stage 的选项中：需求确认"])
    twice = default.replace("  招标采购: [招标,", "  招标采购: [评估方案, 招标,")
    assert check(tmp_path / "twice", capsys, {"leads.yaml": twice}) == (2, ["leads.yaml:-: 需求阶段说法重复：评估方案"])


def test_bad_touches_file_names_file_and_key(tmp_path, capsys):
    code, errors = check(tmp_path, capsys, {"touches.yaml": (
        "valid_kinds: [pdf, fax]\nlabels: {pdf: 方案PDF, telex: 电传}\ncontext_hours: 0\nack_delay_seconds: 9999\n")})
    assert code == 2
    assert errors == [
        "touches.yaml:valid_kinds: 未知的触达类型：fax（可用：product_link、meeting、pdf、file、visit、call、message）",
        "touches.yaml:labels: 未知的触达类型：telex（可用：product_link、meeting、pdf、file、visit、call、message）",
        "touches.yaml:context_hours: 应大于 0",
        "touches.yaml:ack_delay_seconds: 应不大于 600",
    ]
