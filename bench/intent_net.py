"""The intent safety net: seed its examples from the labelled splits, and cross-validate its threshold over them.

    .venv/bin/python -m bench.intent_net seed > rules/defaults/intent_examples.yaml
    .venv/bin/python -m bench.intent_net cv [--thresholds 0.9 0.99 …]

`cv` trains on every split but one, reads the held-out one with and without the net, and rotates; the shipped
examples are never used there (they hold every split).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from nlp import Lexicon
from nlp.intent_net import IntentNet, SafetyNet, masked
from nlp.intents import NOTE, Intent, Phrases, Recognizer, Vocabulary
from nlp.segment import fold
from rules.loader import load_rules
from rules.schema import COMMAND_WORDS

DATA = Path(__file__).parent.parent / "tests" / "nlp" / "data"
BLIND = "intents_holdout"  # never seeded, never cross-validated: the next independent set
FACTS = ("回款", "推进", "拜访")
LABEL_OF = {"预测看板": "预测"}
HEADER = """\
# 自由说法的例句：规则（intents.yaml）认不出、本来要记成备注的话，由一个小模型（字的 1–3 元组，朴素贝叶斯）对照这些例句
# 再猜一次；猜成 asks 里的意图、而且把握不低于 threshold 时，机器人先问一句（带上认出的客户、金额、阶段），从不直接执行。
# § 代表客户名（例句里的客户名都换成了 §）。可以补充例句；意图是命令词或「备注」。
# 初始例句取自评测集 tests/nlp/data/intents_*.yaml（开发集和已看过的独立集），由 python -m bench.intent_net seed 生成；
# 阈值按轮换留一集交叉验证选定（docs/nlp-intents.md「Round six」）。
"""


def splits() -> list[Path]:
    return sorted(p for p in DATA.glob("intents_*.yaml") if p.stem != BLIND)


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def recognizer(customers: list[dict[str, Any]], net: SafetyNet | None = None) -> Recognizer:
    """The recognizer the bot builds, for one split's customers and every command."""
    rules = load_rules()
    behaviors = [b.name for v in rules.behaviors.versions for b in v.behaviors]
    return Recognizer(Vocabulary(
        commands=frozenset(COMMAND_WORDS),
        customers=Lexicon(customers=[(c["name"], list(c.get("aliases", []))) for c in customers]),
        stages=[s.name for s in rules.stages.stages],
        behaviors=list(dict.fromkeys(behaviors)),
        rewards=[r.name for r in rules.behaviors.rewards],
        phrases=Phrases(**rules.intents.model_dump()),
        net=net,
    ))


def examples(paths: Iterable[Path]) -> dict[str, list[str]]:
    """Each case's text, its first customer replaced by § as the recognizer does at run time, under its intent."""
    out: dict[str, list[str]] = {}
    for path in paths:
        data = load(path)
        reader = recognizer(data["customers"])
        for case in data["cases"]:
            text = fold(case["text"].strip())
            out.setdefault(case["intent"], []).append(masked(text, reader.customer(text)[2]))
    return {intent: list(dict.fromkeys(texts)) for intent, texts in out.items()}


def seed() -> str:
    rules = load_rules().intent_examples
    body = {"threshold": rules.threshold, "asks": rules.asks, "examples": examples(splits())}
    return HEADER + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=120)


def tally(cases: list[dict[str, Any]], intents: list[Intent]) -> dict[str, int]:
    right = facts = asked_notes = 0
    for case, intent in zip(cases, intents, strict=True):
        got = LABEL_OF.get(intent.command, intent.command)
        right += got == case["intent"]
        facts += case["intent"] in FACTS and got == NOTE
        asked_notes += case["intent"] == NOTE and got != NOTE
    return {"cases": len(cases), "right": right, "facts_as_notes": facts, "notes_asked": asked_notes}


def cross_validate(thresholds: list[float], asks: frozenset[str]) -> dict[str, dict[float | None, dict[str, int]]]:
    """split → threshold (None: without the net) → counts, the net trained on every other split."""
    paths = splits()
    out: dict[str, dict[float | None, dict[str, int]]] = {}
    for held in paths:
        model = IntentNet(examples(p for p in paths if p != held))
        data = load(held)
        plain = recognizer(data["customers"])
        base = [plain.read(case["text"]) for case in data["cases"]]
        out[held.stem] = {None: tally(data["cases"], base)}
        for threshold in thresholds:
            net = SafetyNet(model, threshold, asks)
            reader = Recognizer(replace(plain.vocabulary, net=net))
            out[held.stem][threshold] = tally(data["cases"], [reader.read(case["text"]) for case in data["cases"]])
    return out


def report(results: Mapping[str, Mapping[float | None, Mapping[str, int]]]) -> str:
    lines = ["| split | cases | threshold | intent accuracy | facts → 备注 | true notes asked |", "|---|---|---|---|---|---|"]
    for split, rows in results.items():
        for threshold, c in rows.items():
            label = "no net" if threshold is None else f"{threshold:g}"
            lines.append(f"| {split} | {c['cases']} | {label} | {c['right'] / c['cases']:.3f} | {c['facts_as_notes']} "
                         f"| {c['notes_asked']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["seed", "cv"])
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.5, 0.7, 0.9, 0.95, 0.99, 0.999])
    args = parser.parse_args()
    if args.what == "seed":
        print(seed(), end="")
        return
    started = time.perf_counter()
    print(report(cross_validate(args.thresholds, frozenset(load_rules().intent_examples.asks))))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
