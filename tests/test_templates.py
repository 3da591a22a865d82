from pathlib import Path

import pytest
import yaml

from bot.cli import main
from handlers.leads import draft, vocabulary
from nlp.leads import parse_lead
from rules.loader import DEFAULTS_DIR, load_rules
from rules.schema import LeadsFile
from rules.templates import TemplateError, catalogue, enable

DEFAULT = (DEFAULTS_DIR / "leads.yaml").read_text(encoding="utf-8")
TEMPLATES = catalogue()
ASKED_FOR = ["制造业", "医疗器械", "医院", "教育", "金融", "保险", "零售", "快消", "SaaS", "物流", "房地产", "建筑", "汽车", "能源",
             "政府", "美业连锁", "餐饮", "电商", "化工", "农业", "电信", "传媒", "法律", "咨询", "旅游", "酒店", "物业", "环保", "半导体",
             "跨境贸易"]


def words(industry) -> list[str]:
    return [industry.name, *industry.aliases, *industry.keywords]


def all_enabled() -> str:
    text = DEFAULT
    for template in TEMPLATES:
        text = enable(text, template.name)
    return text


ALL = LeadsFile.model_validate(yaml.safe_load(all_enabled()))


def rules_dir(tmp_path: Path, leads_yaml: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(parents=True)
    (folder / "leads.yaml").write_text(leads_yaml, encoding="utf-8")
    return folder


def test_the_catalogue_covers_the_industries_asked_for_each_with_its_own_evidence_and_roles():
    labels = [t.label for t in TEMPLATES]
    assert len(TEMPLATES) >= 30 and not set(ASKED_FOR) - set(labels)
    assert len(set(labels)) == len(labels) and len({t.name for t in TEMPLATES}) == len(TEMPLATES)
    for template in TEMPLATES:
        evidence, roles = template.industry.evidence, template.industry.roles
        assert len(evidence) >= 3 and roles and template.summary, template.name
        assert len({q.key for q in evidence}) == len(evidence) and len({q.key for q in roles}) == len(roles)
        assert all(q.choices for q in roles), template.name  # a role card always has buttons
        for question in (*evidence, *roles):  # the stored key is what the card shows; a WeCom card carries 6 buttons
            assert question.key == question.label and len(question.choices) <= 6, (template.name, question.key)
            assert all(len(choice) <= 10 for choice in question.choices), (template.name, question.key)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_each_template_enabled_passes_the_rules_check_and_is_loaded(tmp_path, template):
    industry = load_rules(rules_dir(tmp_path, enable(DEFAULT, template.name))).leads.industry(template.label)
    assert industry is not None
    assert (industry.evidence, industry.roles) == (template.industry.evidence, template.industry.roles)
    assert industry.keywords == template.industry.keywords  # no default industry is named like one of its words


def test_every_template_enabled_at_once_passes_liuhen_rules_check(tmp_path, capsys):
    rules_dir(tmp_path, all_enabled())
    config = tmp_path / "config.yaml"
    config.write_text(f"rules_dir: {tmp_path / 'rules'}\n", encoding="utf-8")
    assert main(["rules", "check", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "规则文件检查通过。"
    assert {t.label for t in TEMPLATES} <= {i.name for i in ALL.industries}


def test_no_word_names_two_templates_and_no_short_latin_word_hides_inside_other_words():
    owner: dict[str, str] = {}
    for template in TEMPLATES:
        for word in words(template.industry):
            assert owner.setdefault(word.casefold(), template.label) == template.label, word
    assert [w for w in owner if w.isascii() and len(w) < 4] == []  # 「ic」 would match inside 「Logistics」


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_with_every_template_enabled_each_word_in_a_message_names_its_own_industry(template):
    for word in words(template.industry):
        parsed = parse_lead(f"新线索 测试客户 {word} 预算50万", vocabulary(ALL))
        assert parsed.industry == template.label, word


@pytest.mark.parametrize(("message", "industry"), [
    ("新线索 万科物业 预算200万", "物业"),
    ("新线索 华住酒店管理 预算200万", "酒店"),
    ("新线索 北京饭店 预算200万", "酒店"),
    ("新线索 扬子石化设备厂 预算200万", "制造业"),
    ("新线索 鲁西化工厂 预算200万", "化工"),
    ("新线索 华虹晶圆厂 预算200万", "半导体"),
    ("新线索 蔚来新能源汽车 预算200万", "汽车"),
    ("新线索 浙大附属医院 预算200万", "医院"),
    ("新线索 杭州市生态环境局 预算200万", "政府"),
    ("新线索 一心堂连锁药店 预算200万", "医药"),
    ("新线索 安克跨境电商 预算200万", "跨境贸易"),
    ("新线索 海底捞火锅 预算200万", "餐饮"),
    ("新线索 南京江北化工贸易公司 预算200万", "化工"),
    ("新线索 合肥京东方 预算200万", None),  # a name holding a platform's name (京东) is not e-commerce
])
def test_the_more_specific_word_wins_with_every_template_enabled(message, industry):
    assert parse_lead(message, vocabulary(ALL)).industry == industry


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.name)
def test_evidence_typed_as_label_and_value_on_the_first_line_is_stored(template):
    evidence = template.industry.evidence
    given = {q.key: (q.choices or ["X200"])[-1] for q in evidence}
    said = " ".join(f"{q.label}：{given[q.key]}" for q in evidence)
    parsed = parse_lead(f"新线索 测试客户 {template.label} 预算50万 决策人李总CEO 需求阶段:需求调研 {said}", vocabulary(ALL))
    lead = draft(parsed, ALL)
    assert (lead["industry"], lead["evidence"], parsed.unknown) == (template.label, given, [])


def test_enabling_appends_the_template_and_moves_its_words_leaving_the_rest_of_the_file_as_it_was():
    text = enable(DEFAULT, "saas")
    before, after = DEFAULT.splitlines(), text.splitlines()
    assert [line for line in before if line not in after] == [
        "    aliases: [软件, SaaS, 电商]", "    keywords: [互联网公司, app, 电商平台, 游戏公司, 云服务, 网游]"]
    assert "    aliases: [电商]" in after and "    keywords: [互联网公司, app, 电商平台, 游戏公司, 网游]" in after
    leads = LeadsFile.model_validate(yaml.safe_load(text))
    assert [i.name for i in leads.industries][-2:] == ["物流", "SaaS"]
    assert leads.industry("软件").name == "SaaS"
    assert after[after.index("  - name: SaaS") - 1] == "  # 行业模板「SaaS」（saas）"


def test_enabling_an_industry_that_exists_replaces_it_in_place_and_twice_changes_nothing():
    text = enable(DEFAULT, "manufacturing")
    leads = LeadsFile.model_validate(yaml.safe_load(text))
    assert [i.name for i in leads.industries] == [i.name for i in load_rules().leads.industries]
    assert leads.industries[0] == next(t.industry for t in TEMPLATES if t.name == "manufacturing")
    assert "「厂」是机构的类型词，比原料词优先" not in text  # the replaced entry's own comment goes with it
    assert "「XX教育局」「XX卫生厅」是政府机关" in text and text.startswith("# 线索必填字段引擎")
    assert enable(text, "manufacturing") == text


def test_a_word_that_is_another_industrys_name_stays_with_that_industry():
    custom = DEFAULT.replace("industries:\n", "industries:\n  - name: 外贸\n    keywords: [外贸公司]\n")
    leads = LeadsFile.model_validate(yaml.safe_load(enable(custom, "cross_border_trade")))
    trade, own = leads.industry("跨境贸易"), leads.industry("外贸")
    assert trade is not None and own is not None and own.name == "外贸"
    assert "外贸" not in trade.aliases and own.keywords == [] and "外贸公司" in trade.keywords


def test_comments_between_industries_and_after_the_list_are_kept():
    commented = DEFAULT.replace("  - name: 互联网\n", "# 互联网：只管平台和游戏公司\n  - name: 互联网\n").replace(
        "  - name: 物流\n", "  - name: 物流  # 含港口\n")
    text = enable(commented, "saas")
    assert "# 互联网：只管平台和游戏公司\n  - name: 互联网\n" in text and "    aliases: [电商]\n" in text
    assert "  - name: 物流  # 含港口\n" in text
    assert "\n\n# 需求阶段的说法：" in text and text.index("  - name: SaaS") < text.index("need_stage_phrases:")


def test_an_unusual_layout_is_written_out_afresh_and_still_valid():
    flow = yaml.safe_load(DEFAULT)
    text = yaml.safe_dump(flow, allow_unicode=True, sort_keys=False, default_flow_style=True)
    leads = LeadsFile.model_validate(yaml.safe_load(enable(text, "hotel")))
    assert leads.industries[-1].name == "酒店" and len(leads.industries) == 10


@pytest.mark.parametrize(("leads_yaml", "name", "error"), [
    (DEFAULT, "spaceflight", "没有名为「spaceflight」的行业模板（可选：agriculture（农业）、automotive（汽车）"),
    ("industries: [\n", "hotel", "leads.yaml 不是合法的 YAML："),
    ("- 只是列表\n", "hotel", "leads.yaml 的顶层必须是键值映射。"),
    ("industries:\n  - aliases: [酒店]\n", "hotel", "leads.yaml 的 industries 必须是行业列表，每个行业都要有 name。"),
])
def test_an_unknown_template_or_a_broken_file_is_refused_with_the_reason(leads_yaml, name, error):
    with pytest.raises(TemplateError) as refused:
        enable(leads_yaml, name)
    assert str(refused.value).startswith(error)


def test_the_docs_list_every_template_with_what_it_asks_for():
    docs = (Path(__file__).parent.parent / "docs" / "templates.md").read_text(encoding="utf-8")
    for template in TEMPLATES:
        [line] = [line for line in docs.splitlines() if line.startswith(f"| {template.label} | `{template.name}` |")]
        asked = [q.label for q in (*template.industry.evidence, *template.industry.roles)]
        assert all(label in line for label in asked), template.name
