"""The admin console's Chinese labels: one per rule-file field name (a name not listed shows as itself)."""

from __future__ import annotations

from rules.schema import EVIDENCE_KINDS, LEAD_FIELD_KEYS, TOUCH_KINDS, VALUE_TRIGGERS

# rule file → its page in the console, in navigation order (intents.yaml last: phrases for experts)
FILES = {
    "leads.yaml": "线索必填与行业证据",
    "stages.yaml": "阶段与红绿灯",
    "health.yaml": "健康度权重与建议",
    "payments.yaml": "回款提醒与提成",
    "behaviors.yaml": "行为价值与奖励",
    "notify.yaml": "免打扰与推送时间",
    "reports.yaml": "反馈分类、竞品与日报",
    "touches.yaml": "有效触达",
    "forecast.yaml": "预测信号",
    "privacy.yaml": "数据保留",
    "intents.yaml": "自然语言说法（专家）",
    "intent_examples.yaml": "自然语言例句（专家）",
}

MODULES = {
    "leads": "线索必填与阶段门槛",
    "touches": "触达采集",
    "stage_lights": "商机红绿灯与升级",
    "health": "客户健康度",
    "payments": "回款倒计时与提成冻结",
    "behaviors": "行为积分、排行与奖励",
    "forecast": "业绩预测与信号校验",
    "reports": "日报速记与拜访清单",
}

LABELS = {
    # stages.yaml
    "stages": "阶段", "name": "名称", "yellow_days": "黄灯天数", "escalate_days": "升级天数", "requires": "进入须填字段",
    "won": "赢单阶段", "lost": "输单阶段", "valid_touch_resets_clock": "有效触达重新计时",
    # leads.yaml
    "required": "必填字段", "fields": "字段", "key": "字段键", "label": "显示名", "prompt": "追问话术", "choices": "可选项",
    "budget_bands": "预算区间", "below": "上限（元，不含）", "phrases": "说法", "titles": "决策人职务",
    "tag_template": "标签模板", "industries": "行业", "aliases": "别名", "keywords": "关键词", "evidence": "证据",
    "roles": "必需决策角色", "need_stage_phrases": "需求阶段说法",
    # health.yaml
    "threshold": "低分阈值", "window_days": "统计天数", "components": "分项权重", "touches": "触达", "files": "资料",
    "feedback": "客户反馈", "dwell": "阶段停留", "max": "满分", "per_item": "每项得分", "base": "基础分",
    "per_negative": "每条负面", "per_positive": "每条正面", "suggestions": "建议规则", "when": "条件", "text": "建议内容",
    # payments.yaml
    "ask_on_stage": "何阶段询问回款计划", "remind_days_before": "提前几天提醒", "commission_rate": "提成比例",
    # behaviors.yaml
    "versions": "季度版本", "quarter": "季度", "effective": "生效日期", "behaviors": "行为", "code": "代码",
    "category": "类别", "points": "积分", "description": "说明", "stage_behaviors": "阶段绑定行为", "rewards": "奖励目录",
    "cost": "所需积分", "onboarding": "新人任务", "within_days": "完成期限（天）", "unlocks": "完成后解锁", "tasks": "任务",
    "behavior": "对应行为", "target": "目标次数",
    # notify.yaml
    "quiet_hours": "免打扰时段", "start": "开始", "end": "结束", "resume_at": "恢复推送时间",
    "digest_from": "合并为摘要的条数", "schedule": "定时任务（cron）",
    # reports.yaml
    "vocabulary": "词表", "products": "产品", "competitors": "竞品", "demands": "需求词", "negative": "负面分类",
    "positive": "正面分类", "value_tags": "价值标签", "weight": "权重", "full": "满分所需条数", "pin_from": "置顶分数",
    "progress_days": "进展统计天数", "visit_goals": "拜访目标", "dingtalk_log": "钉钉日志", "enabled": "启用",
    "template": "模板名",
    # touches.yaml
    "product_domains": "产品链接域名", "meeting_domains": "会议链接域名", "meeting_platforms": "会议平台名",
    "pdf_extensions": "PDF 扩展名", "valid_kinds": "有效触达类型", "labels": "类型名称", "context_hours": "上下文小时数",
    "ack_delay_seconds": "确认延迟（秒）",
    # forecast.yaml
    "min_signals": "最少信号数", "fresh_hours": "新鲜度（小时）", "deviation": "偏差阈值", "signals": "信号",
    "asserted_by": "由谁提出", "events": "企业事件", "similarity": "相似成交", "next_period_from_day": "几号起预测下月",
    "horizon_days": "比较窗口（天）", "lookback_years": "回看年数", "min_cases": "最少案例", "industry_weight": "行业权重",
    "band_weight": "预算区间权重", "chain_weight": "决策链权重", "company_events": "企业事件规则", "risk": "风险事件",
    "lookback_days": "回看天数",
    # privacy.yaml
    "messages_days": "聊天原文保留天数",
    # intents.yaml (the rest show their key)
    "whole": "整句命令", "fillers": "语气词", "typos": "常见错字", "plans": "计划用语", "lead": "新线索说法",
    "payment": "回款说法", "advance": "推进说法", "visit": "拜访说法", "progress": "进展说法", "redeem": "兑换说法",
    "hedges": "不确定用语", "questions": "疑问用语",
}

# "Model.field" → the values it may take; a list field gets one checkbox per value, a text field a drop-down
CHOICES = {
    "ValueTag.when": list(VALUE_TRIGGERS),
    "TouchesFile.valid_kinds": list(TOUCH_KINDS),
    "SignalRule.evidence": list(EVIDENCE_KINDS),
    "SignalRule.asserted_by": ["rep", "system"],
    "LeadsFile.required": list(LEAD_FIELD_KEYS),
    "Stage.requires": list(LEAD_FIELD_KEYS),
}

# what a choice's value reads as (the value itself is what the rule file stores)
VALUES = {
    "industry": "行业", "budget": "预算", "decision_chain": "决策链", "need_stage": "需求阶段", "amount": "金额",
    "expected_close": "预计成交日", "product_link": "产品链接", "meeting": "会议", "pdf": "方案 PDF", "file": "文件",
    "visit": "拜访", "call": "电话", "message": "消息", "contacts": "联系人", "competitors": "竞品", "keywords": "关键词",
    "todos": "待办", "stage_changes": "阶段变化", "feedback": "客户反馈", "amounts": "金额", "link": "链接",
    "system": "系统记录", "rep": "销售",
}
