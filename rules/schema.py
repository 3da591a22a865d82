"""The shape of each rule file; a file that does not fit is refused with file:key messages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_Strict):
    name: str = Field(min_length=1)
    yellow_days: int | None = Field(default=None, ge=1)
    escalate_days: int | None = Field(default=None, ge=1)
    requires: list[str] = []
    won: bool = False
    lost: bool = False

    @model_validator(mode="after")
    def _escalate_after_yellow(self) -> Stage:
        if self.yellow_days and self.escalate_days and self.escalate_days < self.yellow_days:
            raise ValueError("escalate_days 不能早于 yellow_days")
        return self


class StagesFile(_Strict):
    stages: list[Stage] = Field(min_length=2)
    valid_touch_resets_clock: bool = True

    @field_validator("stages")
    @classmethod
    def _unique_names(cls, stages: list[Stage]) -> list[Stage]:
        names = [s.name for s in stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"阶段名称重复：{'、'.join(duplicates)}")
        return stages

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)


class Vocabulary(_Strict):
    products: list[str] = []
    competitors: list[str] = []
    demands: list[str] = []


class Feedback(_Strict):
    negative: list[str] = []
    positive: list[str] = []


class ReportsFile(_Strict):
    vocabulary: Vocabulary = Vocabulary()
    feedback: Feedback = Feedback()


# file name → (RuleSet attribute, schema); a new rule file is one line here and one field on RuleSet.
RULE_FILES: dict[str, tuple[str, type[BaseModel]]] = {
    "stages.yaml": ("stages", StagesFile),
    "reports.yaml": ("reports", ReportsFile),
}
