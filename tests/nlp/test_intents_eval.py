"""Intent recognition measured on every labelled split tests/nlp/data/intents_*.yaml (print: pytest … -s)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.intent_net import recognizer as split_recognizer
from handlers.understand import safety_net
from nlp.intents import NOTE, Intent, Recognizer
from rules.loader import load_rules

DATA = Path(__file__).parent / "data"
ACCURACY = 0.95  # the acceptance figure, per split
# intents_holdout.yaml is the next independent set, dropped in at the end of a round and run once blind (docs/nlp.md,
# "Free-form chat"); until then there is none and its test skips. Every split tuned on (dev, seen*) is held to the
# targets; the blind one too, until its one run says what it measured.
BLIND = "intents_holdout"
SPLITS = sorted(p for p in DATA.glob("intents_*.yaml") if p.stem != BLIND)
# A split run blind and not yet tuned on is held to a floor just under its blind figure (docs/nlp.md), not the targets.
# None now: intents_seen5 (blind 0.898, 8 facts as notes) reached the targets in round six.
# The eighth set (intents_seen6.yaml) measured 0.938 with one planned visit filed as a note, blind after round six; it
# is in the safety net's examples since, and held to a floor under that figure until a round tunes the rules on it.
FLOORS: dict[str, dict[str, float]] = {"intents_seen6": {"accuracy": 0.93, "facts_as_notes": 1}}
FACTS = ("回款", "推进", "拜访")  # a message stating one of these must never be filed as a note
SLOTS = ("customer", "amount", "stage", "behavior")
# The labels have no 预测看板: opening the forecast board counts as the forecast intent.
LABEL_OF = {"预测看板": "预测"}


def recognizer(customers: list[dict[str, Any]]) -> Recognizer:
    """The bot's recognizer, safety net included, for one split's customers."""
    return split_recognizer(customers, safety_net(load_rules().intent_examples))


def predicted_slot(intent: Intent, slot: str) -> Any:
    if slot == "customer":
        return intent.customer or intent.mention
    return getattr(intent, slot)


@dataclass
class Score:
    cases: int = 0
    right: int = 0
    facts_as_notes: list[str] = field(default_factory=list)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    slots: dict[str, list[int]] = field(default_factory=lambda: {s: [0, 0] for s in SLOTS})  # right, asked
    misses: list[str] = field(default_factory=list)

    def add(self, case: dict[str, Any], intent: Intent) -> None:
        label = case["intent"]
        got = LABEL_OF.get(intent.command, intent.command)
        self.cases += 1
        self.right += got == label
        self.confusion[(label, got)] += 1
        if label in FACTS and got == NOTE:
            self.facts_as_notes.append(case["text"])
        if got != label:
            self.misses.append(f"{case['text']}  want {label} got {got}")
            return
        for slot in SLOTS:
            if slot in case and label != NOTE:  # a note's customer is the touch linking's business, not a slot
                self.slots[slot][1] += 1
                ok = predicted_slot(intent, slot) == case[slot]
                self.slots[slot][0] += ok
                if not ok:
                    self.misses.append(f"{case['text']}  {slot} want {case[slot]} got {predicted_slot(intent, slot)}")
        if "done" in case:
            self.slots.setdefault("done", [0, 0])
            self.slots["done"][1] += 1
            self.slots["done"][0] += intent.done == case["done"]
            if intent.done != case["done"]:
                self.misses.append(f"{case['text']}  done want {case['done']} got {intent.done}")

    @property
    def accuracy(self) -> float:
        return self.right / self.cases if self.cases else 0.0

    def table(self, split: str) -> str:
        labels = sorted({label for label, _ in self.confusion} | {got for _, got in self.confusion})
        lines = [f"== {split}: {self.cases} cases, intent accuracy {self.accuracy:.3f}, "
                 f"payment/advance/visit predicted {NOTE}: {len(self.facts_as_notes)}",
                 f"{'intent':<8}{'n':>5}{'precision':>11}{'recall':>9}"]
        for label in labels:
            tp = self.confusion[(label, label)]
            predicted = sum(n for (_, got), n in self.confusion.items() if got == label)
            actual = sum(n for (want, _), n in self.confusion.items() if want == label)
            precision = tp / predicted if predicted else 0.0
            recall = tp / actual if actual else 0.0
            lines.append(f"{label:<8}{actual:>5}{precision:>11.3f}{recall:>9.3f}")
        for slot, (right, asked) in self.slots.items():
            if asked:
                lines.append(f"slot {slot:<9} {right}/{asked} = {right / asked:.3f}")
        return "\n".join(lines)


def score(path: Path) -> Score:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    reader = recognizer(data["customers"])
    result = Score()
    for case in data["cases"]:
        result.add(case, reader.read(case["text"]))
    return result


def test_there_is_a_dev_split() -> None:
    assert DATA / "intents_dev.yaml" in SPLITS


def held_to_targets(path: Path) -> None:
    result = score(path)
    print("\n" + result.table(path.stem))
    for miss in result.misses:
        print("  miss:", miss)
    floor = FLOORS.get(path.stem, {"accuracy": ACCURACY, "facts_as_notes": 0})
    assert len(result.facts_as_notes) <= floor["facts_as_notes"], f"stated facts filed as notes: {result.facts_as_notes}"
    assert result.accuracy >= floor["accuracy"], f"{path.stem}: intent accuracy {result.accuracy:.3f} < {floor['accuracy']}"


@pytest.mark.parametrize("path", SPLITS, ids=[p.stem for p in SPLITS])
def test_intents_split(path: Path) -> None:
    held_to_targets(path)


def test_intents_blind_split() -> None:
    path = DATA / f"{BLIND}.yaml"
    if not path.exists():
        pytest.skip(f"no blind set yet: {path.name} is dropped in at the end of a round and run once")
    held_to_targets(path)


def test_a_pasted_document_is_a_note_however_it_starts() -> None:
    reader = recognizer([{"name": "北京同创科技有限公司", "aliases": ["北京同创"]}])
    stated = "北京同创尾款50万今天到账了。"
    assert reader.read(stated).command == "回款"
    minutes = stated + "会议纪要：" + "双方就二期范围、实施计划和验收标准进行了讨论，" * 30  # ≈ 700 characters
    assert reader.read(minutes).command == NOTE
