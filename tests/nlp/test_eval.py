from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from nlp import Extraction, Extractor, Lexicon

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "tests" / "data" / "nlp_eval.yaml"
VOCABULARY = ROOT / "rules" / "defaults" / "reports.yaml"

FIELDS = ("customers", "contacts", "amounts", "todos", "due dates", "feedback", "competitors", "contact titles",
          "todo customers")
# Regression guard on the whole set: a little below the figures measured when these rules were
# written (docs/nlp.md), so that a real regression fails while a one-case wobble does not.
THRESHOLDS = {
    ("customers", "precision"): 0.95,
    ("customers", "recall"): 0.95,
    ("amounts", "precision"): 0.95,
    ("amounts", "recall"): 0.95,
    ("due dates", "accuracy"): 0.95,
    ("todos", "precision"): 0.9,
    ("todos", "recall"): 0.95,
    ("contacts", "precision"): 0.9,
    ("contacts", "recall"): 0.9,
    ("feedback", "precision"): 0.9,
    ("feedback", "recall"): 0.85,
    ("competitors", "precision"): 0.9,
    ("competitors", "recall"): 0.9,
}
# What the held-out cases alone must reach (the targets).
HOLDOUT_MINIMUMS = {
    ("customers", "precision"): 0.9,
    ("customers", "recall"): 0.9,
    ("amounts", "precision"): 0.9,
    ("amounts", "recall"): 0.9,
    ("due dates", "accuracy"): 0.9,
    ("todos", "precision"): 0.8,
    ("todos", "recall"): 0.8,
}


@dataclass
class Tally:
    true_positive: int = 0
    predicted: int = 0
    expected: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, case: str, predicted: list[Any], expected: list[Any], matched: int) -> None:
        self.true_positive += matched
        self.predicted += len(predicted)
        self.expected += len(expected)
        if matched < max(len(predicted), len(expected)):
            self.misses.append(f"{case}: got {predicted} want {expected}")

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.expected if self.expected else 1.0


def _overlap(predicted: list[Any], expected: list[Any]) -> int:
    return sum((Counter(predicted) & Counter(expected)).values())


def _norm(text: str) -> str:
    return "".join(text.split()).lower()


def _match_todos(predicted: list[dict[str, Any]], expected: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """One-to-one, in order: a predicted todo matches an expected one when it contains its fragment."""
    pairs, free = [], list(predicted)
    for want in expected:
        got = next((p for p in free if _norm(want["text"]) in _norm(p["text"])), None)
        if got is not None:
            free.remove(got)
            pairs.append((got, want))
    return pairs


@pytest.fixture(scope="module")
def evaluation() -> dict[str, dict[str, Tally]]:
    """Tallies per split: `dev` (the rules were tuned on it), `holdout` (labelled after) and `all`."""
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    lexicon = Lexicon.from_vocabulary(
        yaml.safe_load(VOCABULARY.read_text(encoding="utf-8")),
        customers=[(c["name"], c["aliases"]) for c in data["customers"]],
        contacts=[(c["name"], c["title"], c["customer"]) for c in data["contacts"]],
    )
    extractor = Extractor(lexicon)
    splits = {split: {name: Tally() for name in FIELDS} for split in ("dev", "holdout", "all")}
    for case in data["cases"]:
        got = extractor.extract(case["text"], case["today"])
        for tallies in (splits[case.get("split", "dev")], splits["all"]):
            _score(got, case, tallies)
    return splits


def _score(got: Extraction, case: dict[str, Any], tallies: dict[str, Tally]) -> None:
    """Adds one case's predictions to the tallies."""
    out = got.to_dict()
    cid = case["id"]
    simple = {
        "customers": ([c["name"] for c in out["customers"]], case["customers"]),
        "contacts": ([c["name"] for c in out["contacts"]], list(case["contacts"])),
        "amounts": ([a["value"] for a in out["amounts"]], case["amounts"]),
        "feedback": ([(f["keyword"], f["polarity"]) for f in out["feedback"]], list(case["feedback"].items())),
        "competitors": ([c["name"] for c in out["competitors"]], case["competitors"]),
    }
    for name, (predicted, expected) in simple.items():
        tallies[name].add(cid, predicted, expected, _overlap(predicted, expected))
    pairs = _match_todos(out["todos"], case["todos"])
    tallies["todos"].add(cid, [t["text"] for t in out["todos"]], [t["text"] for t in case["todos"]], len(pairs))
    for got_todo, want in pairs:
        due = want["due"].isoformat() if want["due"] else None
        tallies["due dates"].add(cid, [got_todo["due"]], [due], int(got_todo["due"] == due))
        if "customer" in want:
            tallies["todo customers"].add(cid, [got_todo["customer"]], [want["customer"]],
                                          int(got_todo["customer"] == want["customer"]))
    titles = {c["name"]: c["title"] for c in out["contacts"]}
    for name, title in case["contacts"].items():
        if name in titles:
            same = (titles[name] or "").lower() == (title or "").lower()
            tallies["contact titles"].add(cid, [titles[name]], [title], int(same))


def test_eval_set_is_big_and_varied_enough() -> None:
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    assert len(data["cases"]) >= 60
    assert len({c["id"].split("-")[0] for c in data["cases"]}) >= 8
    assert len({c["id"] for c in data["cases"]}) == len(data["cases"])


def test_prints_the_precision_recall_table(
    evaluation: dict[str, dict[str, Tally]], capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print("\nnlp eval (tests/data/nlp_eval.yaml): precision / recall; due dates, titles, todo customers: accuracy")
        print(f"{'field':<16}" + "".join(f"{split:>20}" for split in evaluation))
        for name in FIELDS:
            cells = [evaluation[split][name] for split in evaluation]
            print(f"{name:<16}" + "".join(f"{t.precision:>10.3f}{t.recall:>7.3f}{t.expected:>3}" for t in cells))


def _measure(tally: Tally, measure: str) -> float:
    return tally.recall if measure == "accuracy" else float(getattr(tally, measure))


@pytest.mark.parametrize(("field_name", "measure"), list(THRESHOLDS), ids=[f"{f}-{m}" for f, m in THRESHOLDS])
def test_field_meets_its_threshold(evaluation: dict[str, dict[str, Tally]], field_name: str, measure: str) -> None:
    tally = evaluation["all"][field_name]
    assert _measure(tally, measure) >= THRESHOLDS[(field_name, measure)], "\n".join(tally.misses)


@pytest.mark.parametrize(
    ("field_name", "measure"), list(HOLDOUT_MINIMUMS), ids=[f"{f}-{m}" for f, m in HOLDOUT_MINIMUMS]
)
def test_held_out_cases_meet_the_targets(evaluation: dict[str, dict[str, Tally]], field_name: str, measure: str) -> None:
    tally = evaluation["holdout"][field_name]
    assert _measure(tally, measure) >= HOLDOUT_MINIMUMS[(field_name, measure)], "\n".join(tally.misses)
