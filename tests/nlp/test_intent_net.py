"""The learned safety net: what the rules would file as a note is asked about when the examples say it is a fact."""

from __future__ import annotations

import pytest
import yaml

from bench.intent_net import examples, load, recognizer, splits
from handlers.understand import safety_net
from nlp.intent_net import CUSTOMER, IntentNet, SafetyNet, grams, masked
from nlp.intents import NOTE
from rules.loader import RulesError, load_rules

CUSTOMERS = [{"name": "北京同创科技有限公司", "aliases": ["北京同创"]},
             {"name": "合肥卓越电子有限公司", "aliases": ["合肥卓越"]}]


@pytest.fixture(scope="module")
def readers():
    """(rules alone, rules with the shipped net) for the same customers."""
    return recognizer(CUSTOMERS), recognizer(CUSTOMERS, safety_net(load_rules().intent_examples))


@pytest.mark.parametrize(("text", "command", "customer", "amount", "done"), [
    ("北京同创那边今天把二十万结过来了", "回款", "北京同创科技有限公司", 200_000, None),
    ("北京同创二十万已经躺在账上", "回款", "北京同创科技有限公司", 200_000, None),
    ("合肥卓越下午去了 保安登记了半天", "拜访", "合肥卓越电子有限公司", None, True),
    ("今日份的日报来一个谢谢老板", "日报速记", None, None, None),
])
def test_a_fact_no_phrase_matches_is_asked_about_with_its_slots(readers, text, command, customer, amount, done):
    rules, with_net = readers
    assert rules.read(text).command == NOTE  # the phrases alone would file it silently
    found = with_net.read(text)
    assert (found.command, found.sure, found.customer, found.amount, found.done) == (command, False, customer, amount,
                                                                                     done)


@pytest.mark.parametrize("text", [
    "北京同创那边二十万结过来了吗",  # a question
    "合肥卓越下午去了 门口保安不让进",  # it did not happen
    "这个助手挺方便",  # praise names no request
    "约了牙医明天下午",  # a plan with nobody we know
    "北京同创退款了 2万",  # money going back
])
def test_a_note_the_net_leans_against_stays_a_note(readers, text):
    assert readers[1].read(text).command == NOTE


def test_a_guess_below_the_threshold_or_outside_asks_is_not_asked():
    model = IntentNet({"回款": ["§的款到了", "§打款了"], NOTE: ["§的王总说下周再聊", "天气不错"]})
    assert SafetyNet(model, 0.5, frozenset({"回款"})).ask("§的款打了") == "回款"
    assert SafetyNet(model, 1.0, frozenset({"回款"})).ask("§的款打了") is None  # never that sure
    assert SafetyNet(model, 0.5, frozenset({"拜访"})).ask("§的款打了") is None
    assert model.guess("xyz") is None  # nothing it has seen: no guess at all


def test_customer_names_and_digits_teach_nothing():
    assert masked("北京同创尾款到了", (0, 4)) == CUSTOMER + "尾款到了"
    assert grams("50万到了") == grams("80万到了")
    assert grams("款到了！！") == grams("款到了")


def test_the_shipped_examples_hold_every_labelled_case():
    """Seeded by `python -m bench.intent_net seed`: a new dev case is an example too once the file is re-seeded."""
    shipped = load_rules().intent_examples.examples
    for intent, texts in examples(splits()).items():
        missing = set(texts) - set(shipped.get(intent, []))
        assert not missing, f"{intent}: run python -m bench.intent_net seed ({sorted(missing)[:3]} …)"
    assert sum(len(load(path)["cases"]) for path in splits()) >= sum(len(t) for t in shipped.values())


def test_rules_check_names_an_unknown_intent_and_a_bad_threshold(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "intent_examples.yaml").write_text(yaml.safe_dump(
        {"threshold": 0.2, "asks": ["回款", "开会"], "examples": {"闲聊": ["天气不错"], "回款": [" "]}},
        allow_unicode=True), encoding="utf-8")
    with pytest.raises(RulesError) as error:
        load_rules(rules)
    assert sorted(p.split(": ", 1)[0].rsplit("/", 1)[-1] for p in error.value.problems) == [
        "intent_examples.yaml:asks", "intent_examples.yaml:examples", "intent_examples.yaml:threshold"]
    assert any("未知的意图：闲聊" in p for p in error.value.problems)
