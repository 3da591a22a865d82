"""Named jobs that `liuhen jobs list/run` and the scheduler know about; modules add theirs here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from rules.loader import RuleSet
from scheduler import behaviors, forecast, health, payments, reports, retention, stage_lights

Sweep = Callable[[Session, datetime, RuleSet, ZoneInfo], int]


@dataclass(frozen=True)
class Job:
    name: str
    module: str  # the config module that owns it; switched off, the job does not run
    run: Sweep
    summary: str


JOBS: dict[str, Job] = {
    job.name: job
    for job in [
        Job("stage_lights", "stage_lights", stage_lights.run, "阶段红绿灯：停滞亮黄灯提醒销售，超期升级给主管"),
        Job("health", "health", health.run, "商机健康度：每晚重算，低于阈值把原因和建议推给销售"),
        Job("payments", "payments", payments.run, "回款倒计时：到期前提醒，逾期未回款暂扣提成"),
        Job("leaderboard", "behaviors", behaviors.leaderboard, "行为积分排行榜：每周一把上周 TOP10 发到各团队"),
        Job("onboarding", "behaviors", behaviors.onboarding, "新人行为导航：入职首月推送任务卡片"),
        Job("forecast_prompts", "forecast", forecast.prompts, "销售预测：每月 25 日请销售逐个商机填报预测与信号"),
        Job("forecast_close", "forecast", forecast.close, "预测结账：期末偏差超 25% 生成《偏差根因报告》并跟踪复盘"),
        Job("company_events", "forecast", forecast.company_events, "客户工商动态：风险提示推给销售，正面动态记为系统信号"),
        Job("todo_reminders", "reports", reports.todo_reminders, "日报待办：到期当天提醒销售，每条只提醒一次"),
        Job("report_digest", "reports", reports.report_digest, "日报价值雷达：每天把团队高价值日报置顶推给主管，附雷达图"),
        Job("retention", "core", retention.run, "数据保留：清除超过保留期的原始聊天文本"),
    ]
}
