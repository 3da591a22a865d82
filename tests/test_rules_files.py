from datetime import date

import yaml

import nlp
from bot.cli import main
from rules.loader import DEFAULTS_DIR, load_rules
from rules.schema import RULE_FILES


def run_check(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(f"rules_dir: {tmp_path / 'rules'}\n", encoding="utf-8")
    code = main(["rules", "check", "--config", str(config)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def test_shipped_defaults_pass(tmp_path, capsys):
    code, out, err = run_check(tmp_path, capsys)
    assert (code, out.strip(), err) == (0, "规则文件检查通过。", [])
    assert load_rules().stages.stage("方案演示").yellow_days == 5


def test_override_file_problems_name_file_and_key(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "stages.yaml").write_text(
        "stages:\n  - name: 线索\n    yellow_days: 0\n  - name: 线索\n    escalate_days: 3\n    colour: red\n",
        encoding="utf-8",
    )
    (rules / "unknown.yaml").write_text("a: 1\n", encoding="utf-8")
    code, _, err = run_check(tmp_path, capsys)
    path = rules / "stages.yaml"
    assert code == 2
    assert err == [
        f"{rules / 'unknown.yaml'}:-: 未知的规则文件（可用：{', '.join(RULE_FILES)}）",
        f"{path}:stages[0].yellow_days: 应不小于 1",
        f"{path}:stages[1].colour: 未知的键",
    ]


def test_invalid_yaml_and_semantic_errors(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "stages.yaml").write_text("stages:\n  - name: 线索\n  - name: 线索\n", encoding="utf-8")
    (rules / "reports.yaml").write_text("vocabulary: [\n", encoding="utf-8")
    code, _, err = run_check(tmp_path, capsys)
    assert code == 2
    assert err[0] == f"{rules / 'stages.yaml'}:stages: 阶段名称重复：线索"
    assert err[1].startswith(f"{rules / 'reports.yaml'}:-: 不是合法的 YAML")


def test_intent_phrases_are_checked_by_file_and_key(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "intents.yaml").write_text(
        "whole:\n  报销: [报个销]\n  帮助: [怎么用, ' ']\npayment: [到账, '']\nvisits: [拜访]\n", encoding="utf-8")
    code, _, err = run_check(tmp_path, capsys)
    path = rules / "intents.yaml"
    assert code == 2
    assert err == [
        f"{path}:whole: 未知的命令：报销（可用：新线索、推进、进展、行为、回款、日报速记、拜访、预测、预测看板、兑换、看板、排行榜、取消、帮助）",
        f"{path}:payment: 列表里有空说法",
        f"{path}:visits: 未知的键",
    ]


def test_feedback_taxonomy_problems_name_file_key_and_category(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "reports.yaml").write_text(
        "feedback:\n  negative:\n    价格高: [太贵]\n    嫌贵: [太贵]\n  positive:\n    感兴趣: []\n", encoding="utf-8")
    code, _, err = run_check(tmp_path, capsys)
    path = rules / "reports.yaml"
    assert code == 2
    assert err == [f"{path}:feedback.positive: 分类「感兴趣」没有任何说法"]
    (rules / "reports.yaml").write_text("feedback:\n  negative:\n    价格高: [太贵]\n    嫌贵: [太贵]\n", encoding="utf-8")
    code, _, err = run_check(tmp_path, capsys)
    assert err[0] == f"{path}:feedback: 说法「太贵」同时属于「价格高」和「嫌贵」"


def test_a_health_suggestion_must_name_a_feedback_category(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "reports.yaml").write_text("feedback:\n  negative:\n    价格高: [太贵]\n", encoding="utf-8")
    code, _, err = run_check(tmp_path, capsys)
    assert code == 2
    assert err[0] == "health.yaml:suggestions[1].when: 未知的反馈分类「预算不足」（reports.yaml 的 feedback.negative 里没有）"
    assert len(err) == 8  # every shipped suggestion naming a category this file no longer defines


def test_an_added_feedback_category_is_found_in_chat(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    shipped = yaml.safe_load((DEFAULTS_DIR / "reports.yaml").read_text(encoding="utf-8"))
    shipped["feedback"]["negative"]["交付担忧"] = ["工期太紧", "怕交付不了"]  # an admin adds a category
    (rules / "reports.yaml").write_text(yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8")
    reports = load_rules(rules).reports
    found = nlp.extract("客户说工期有点太紧了", date(2026, 12, 4), nlp.Lexicon.from_vocabulary(reports.model_dump()))
    assert found.to_dict()["feedback"] == [{"keyword": "交付担忧", "polarity": "negative", "words": "工期有点太紧"}]


def test_a_typo_must_be_as_long_as_its_command_word(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "intents.yaml").write_text("typos:\n  推进: [推近, 推尽了]\n", encoding="utf-8")
    code, _, err = run_check(tmp_path, capsys)
    assert code == 2
    assert err == [f"{rules / 'intents.yaml'}:typos: 错字要和原词一样长：推尽了"]
