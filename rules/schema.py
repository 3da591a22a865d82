"""The shape of each rule file; a file that does not fit is refused with file:key messages."""

from __future__ import annotations

from datetime import time

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


class QuietHours(_Strict):
    start: time = time(21, 0)
    end: time = time(8, 0)
    resume_at: time = time(8, 30)  # pushes held during quiet hours go out at this local time


class NotifyFile(_Strict):
    """How scheduled pushes reach people: quiet hours, digests, and when each sweep runs."""

    quiet_hours: QuietHours = QuietHours()
    digest_from: int = Field(default=2, ge=2)  # this many due items for one person become one digest card
    schedule: dict[str, str] = {}  # job name → cron "minute hour day month day_of_week" (local time)

    @field_validator("schedule")
    @classmethod
    def _cron_has_five_fields(cls, schedule: dict[str, str]) -> dict[str, str]:
        for job, cron in schedule.items():
            if len(cron.split()) != 5:
                raise ValueError(f"{job}: cron 应为 5 段（分 时 日 月 周），而不是「{cron}」")
        return schedule


# file name → (RuleSet attribute, schema); a new rule file is one line here and one field on RuleSet.
RULE_FILES: dict[str, tuple[str, type[BaseModel]]] = {
    "stages.yaml": ("stages", StagesFile),
    "reports.yaml": ("reports", ReportsFile),
    "notify.yaml": ("notify", NotifyFile),
}
