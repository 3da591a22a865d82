"""`liuhen admin link`, `liuhen rules export` and `liuhen rules import` as child processes on one SQLite file."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot import orgfile
from bot.links import ADMIN, LinkSigner
from rules.loader import rule_texts
from rules.schema import RULE_FILES
from store import migrate
from store.db import make_engine, session_scope
from store.models import AuditLog, RuleVersion
from tests.conftest import DATA
from tests.reliability.harness import ROOT, child_env, liuhen

SECRET = "admin-cli-link-secret-0123456789"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db_url = f"sqlite:///{tmp_path / 'liuhen.db'}"
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    teams, users = orgfile.parse(DATA / "org.yaml")
    with session_scope(engine) as session:
        orgfile.apply(session, teams, users)
    engine.dispose()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "rules_dir": str(tmp_path / "no-rules"),
                                    "server": {"link_secret": SECRET, "public_url": "https://liuhen.example.com"}}),
                    encoding="utf-8")
    return path


def refused(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "bot", *args, "--config", str(config)], cwd=ROOT, env=child_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    return done


def versions(config: Path) -> list[RuleVersion]:
    url = yaml.safe_load(config.read_text(encoding="utf-8"))["database"]["url"]
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = list(session.execute(select(RuleVersion).order_by(RuleVersion.id)).scalars())
        audited = session.execute(select(func.count()).select_from(AuditLog)
                                  .where(AuditLog.action == "rules.saved")).scalar_one()
    engine.dispose()
    assert audited == len(rows)
    return rows


def test_admin_link_is_signed_for_the_admin_console(config):
    url = liuhen("admin", "link", "boss", config=config).strip()
    assert url.startswith("https://liuhen.example.com/admin?t=")
    grant = LinkSigner(SECRET.encode(), "https://liuhen.example.com").verify(url.split("t=")[1], ADMIN,
                                                                             datetime.now(UTC))
    assert grant.viewer == "boss"


@pytest.mark.parametrize("user", ["lilei", "zhangwei", "nobody"])
def test_admin_link_for_anyone_but_an_admin_is_one_chinese_line_and_exit_2(config, user):
    done = refused("admin", "link", user, config=config)
    assert done.stdout == "" and done.stderr.strip() == f"{user}: 没有这个用户，或该用户不是管理员（role: admin），不能打开管理后台"


def test_export_without_a_version_writes_the_files_in_force(config, tmp_path):
    out = tmp_path / "out"
    assert "规则目录" in liuhen("rules", "export", str(out), config=config)
    assert {p.name for p in out.iterdir()} == set(RULE_FILES)
    assert (out / "stages.yaml").read_text(encoding="utf-8") == rule_texts()["stages.yaml"]


def test_import_saves_a_version_that_export_and_jobs_then_use(config, tmp_path):
    source = tmp_path / "edited"
    source.mkdir()
    stages = rule_texts()["stages.yaml"].replace("yellow_days: 5\n    escalate_days: 7", "yellow_days: 3\n    escalate_days: 7")
    (source / "stages.yaml").write_text(stages, encoding="utf-8")
    out = liuhen("rules", "import", str(source), "--why", "方案阶段三天亮黄灯", config=config)
    assert "版本 #1" in out
    [row] = versions(config)
    assert row.why == "方案阶段三天亮黄灯" and row.author.startswith("cli") and row.files["stages.yaml"] == stages
    assert row.files["leads.yaml"] == rule_texts()["leads.yaml"]  # a file not given is the shipped default
    exported = tmp_path / "exported"
    assert "版本 #1" in liuhen("rules", "export", str(exported), config=config)
    assert (exported / "stages.yaml").read_text(encoding="utf-8") == stages


def test_an_invalid_import_names_file_and_key_and_saves_nothing(config, tmp_path):
    source = tmp_path / "bad"
    source.mkdir()
    (source / "payments.yaml").write_text("ask_on_stage: 合同签署\nremind_days_before: 0\ncommission_rate: 2\n",
                                          encoding="utf-8")
    (source / "colours.yaml").write_text("a: 1\n", encoding="utf-8")
    done = refused("rules", "import", str(source), "--why", "坏文件", config=config)
    assert done.stderr.splitlines() == [
        f"{source / 'colours.yaml'}:-: 未知的规则文件（可用：{', '.join(RULE_FILES)}）",
        f"{source / 'payments.yaml'}:remind_days_before: 应不小于 1",
        f"{source / 'payments.yaml'}:commission_rate: 应小于 1",
    ]
    assert versions(config) == []
    assert refused("rules", "import", str(tmp_path / "missing"), config=config).stderr.strip().endswith("目录不存在")


def test_jobs_run_judges_by_the_active_version(config, tmp_path):
    from tests.pipeline_helpers import opportunity

    url = yaml.safe_load(config.read_text(encoding="utf-8"))["database"]["url"]
    engine = make_engine(url)
    opportunity(engine, customer="华东医疗器械有限公司", stage="方案演示", at=datetime.now(UTC) - timedelta(days=4))
    engine.dispose()
    assert liuhen("jobs", "run", "stage_lights", config=config).strip().endswith("写入 0 条。")  # yellow at 5 days
    source = tmp_path / "edited"
    source.mkdir()
    (source / "stages.yaml").write_text(rule_texts()["stages.yaml"].replace(
        "yellow_days: 5\n    escalate_days: 7", "yellow_days: 3\n    escalate_days: 7"), encoding="utf-8")
    liuhen("rules", "import", str(source), "--why", "三天亮黄灯", config=config)
    assert liuhen("jobs", "run", "stage_lights", config=config).strip().endswith("写入 1 条。")
