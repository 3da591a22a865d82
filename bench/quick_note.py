"""日报速记 draft latency over a day of generated rep messages vs `jieba.lcut` of the same text, in the same run.

    .venv/bin/python -m bench.quick_note [--messages 200] [--customers 50] [--runs 5]

Generates its own data in a temporary SQLite file: one rep, N visible customers (with aliases), and a
day of WeCom-style messages in the inbox. "draft" is `handlers.reports.build_draft` — the whole quick
note: the inbox and touch queries, the lexicon build and the extraction of every message. "lcut" is
`jieba.lcut` over the same message texts. The ratio is given in wall-clock time and in this process's CPU
time (on a loaded machine the first swings with other processes' load). Also prints the peak RSS after
start-up (jieba's dictionary loaded by `nlp.init()`) and after the runs.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jieba
from sqlmodel import Session

import nlp
from bot.events import CommandInfo, Context
from handlers.reports import build_draft
from rules.loader import load_rules
from store import migrate
from store.db import make_engine
from store.models import Customer, Message, User

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 12, 1, 19, 0, tzinfo=TZ)
REGIONS = ["华东", "华北", "华南", "西南", "江苏", "浙江", "广州", "成都", "武汉", "青岛"]
TRADES = [("医疗器械", "有限公司"), ("人民医院", ""), ("能源", "集团"), ("证券", "股份有限公司"), ("物流", "有限公司"),
          ("教育科技", "有限公司"), ("智能制造", "有限公司"), ("农商", "银行"), ("零售", "集团"), ("地产", "集团")]
PEOPLE = ["王总", "李主任", "张经理", "陈工", "刘处", "赵总监", "孙老师", "周总"]
TITLES = ["CTO", "CIO", "信息科主任", "采购经理", "IT负责人"]
TEMPLATES = [
    "{c}{p}说价格有点高，需要走审批流程",
    "明天下午去{c}做方案演示，{p}和IT都参加",
    "周五前给{c}发报价，顺便约{p}下周三做POC",
    "{c}那边竞品{x}也在报价，{p}觉得我们的数据看板更好用",
    "今天和{c}的{t}{n}聊了接口对接，预算大概{m}万",
    "{c}要求下个月初上线，月底前完成数据迁移",
    "{p}反馈上次试用不满意，要再考虑一下",
    "好的收到👍",
    "晚上把{c}的合同初稿改完，明天发给法务",
    "{c}确认了二期需求，{p}同意安排签约",
    "[链接] CRM系统产品介绍 https://example.com/crm?from={i}",
    "{c}的{p}(CFO)说今年预算已批，年底前要定",
]
COMPETITORS = ["销售易", "纷享销客", "用友", "金蝶", "Salesforce"]


def customers(n: int) -> list[tuple[str, list[str]]]:
    names = []
    for i in range(n):
        region, (trade, suffix) = REGIONS[i % len(REGIONS)], TRADES[(i // len(REGIONS)) % len(TRADES)]
        body = f"{region}{trade}" if i < len(REGIONS) * len(TRADES) else f"{region}{trade}{i}"
        names.append((body + suffix, [body[:4]] if suffix else []))
    return names


def messages(rng: random.Random, pool: list[tuple[str, list[str]]], n: int) -> list[str]:
    out = []
    for i in range(n):
        name, aliases = rng.choice(pool)
        out.append(rng.choice(TEMPLATES).format(
            c=rng.choice([name, *aliases]), p=rng.choice(PEOPLE), x=rng.choice(COMPETITORS), t=rng.choice(TITLES),
            n=rng.choice(["王明", "李伟", "张静"]), m=rng.randint(20, 800), i=i))
    return out


def seed(engine, pool: list[tuple[str, list[str]]], texts: list[str]) -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
    with Session(engine) as session:
        session.add(User(id="rep", name="李雷", role="rep"))
        session.flush()
        session.add_all(Customer(name=name, aliases=aliases, owner_id="rep") for name, aliases in pool)
        for i, text in enumerate(texts):
            at = (start + timedelta(minutes=3 * i)).astimezone(UTC)
            session.add(Message(channel="local", msg_id=f"m{i}", sender="rep", user_id="rep", kind="text", text=text,
                                event={}, received_at=at, processed_at=at))
        session.commit()


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    nlp.init()
    started = rss_mib()
    rng = random.Random(7)
    pool = customers(args.customers)
    texts = messages(rng, pool, args.messages)
    rules = load_rules()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate.upgrade(engine)
        seed(engine, pool, texts)
        drafts, cuts, draft_cpu, cut_cpu = [], [], [], []
        for _ in range(args.runs):
            with Session(engine) as session:
                user = session.get(User, "rep")
                assert user is not None
                ctx = Context(session=session, user=user, now=AT, tz=TZ, rules=rules,
                              commands=[CommandInfo("日报速记", "日报速记", "")])
                t0, c0 = time.perf_counter(), time.process_time()
                draft = build_draft(ctx)
                drafts.append(time.perf_counter() - t0)
                draft_cpu.append(time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time()
            for text in texts:
                jieba.lcut(text)
            cuts.append(time.perf_counter() - t0)
            cut_cpu.append(time.process_time() - c0)
        engine.dispose()
    draft_ms, cut_ms = statistics.median(drafts) * 1000, statistics.median(cuts) * 1000
    chars = sum(len(t) for t in texts)
    print(f"day: {args.messages} messages, {chars} characters, {args.customers} visible customers; "
          f"median of {args.runs} runs")
    print(f"draft (handlers.reports.build_draft): {draft_ms:8.1f} ms  "
          f"({len(draft['customers'])} customers, {len(draft['todos'])} todos, {len(draft['contacts'])} contacts)")
    print(f"jieba.lcut of the same texts:          {cut_ms:8.1f} ms")
    print(f"ratio draft / lcut:                    {draft_ms / cut_ms:8.1f}x")
    print(f"ratio in CPU time of this process:     {statistics.median(draft_cpu) / statistics.median(cut_cpu):8.1f}x"
          "  (steadier on a shared machine: other processes' load does not count)")
    print(f"peak RSS after nlp.init(): {started:.0f} MiB; after the runs: {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
