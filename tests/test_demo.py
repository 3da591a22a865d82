import os
import socket
import subprocess
import sys

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIUHEN")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--port", str(port), "--db", str(tmp_path / "demo.db")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )
    try:
        for line in proc.stdout:  # blocks until uvicorn says it is listening (or the process dies)
            if "Uvicorn running on" in line:
                break
        else:
            pytest.fail("demo exited before serving")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_demo_serves_the_simulator_where_help_lists_the_commands(demo):
    with httpx.Client(base_url=demo, timeout=10) as client:
        assert "本地聊天模拟器" in client.get("/sim").text
        users = {u["id"] for u in client.get("/sim/api/users").json()}
        assert {"zhangwei", "lilei", "hanmeimei"} <= users
        messages = client.post("/sim/api/send", json={"user": "lilei", "text": "帮助"}).json()["messages"]
        card = messages[-1]["payload"]["card"]
        assert card["title"] == "留痕 · 可用命令"
        assert any(line.startswith("· 帮助") for line in card["lines"])
        assert client.get("/healthz").json()["database"] == "ok"


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_make_demo_takes_a_port():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}  # `make test` runs us inside make
    dry = subprocess.run(["make", "--no-print-directory", "-n", "demo", "PORT=8001"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    assert dry.stdout.strip().splitlines()[-1] == ".venv/bin/liuhen demo --port 8001"


def test_the_demo_scheduler_lock_is_not_left_untracked():
    ignored = subprocess.run(["git", "check-ignore", "-q", "liuhen-demo.db.scheduler.lock"], cwd=ROOT)
    assert ignored.returncode == 0
