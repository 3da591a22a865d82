import io
import json

from bot.cli import main


def test_nlp_extract_prints_the_contract_shape(tmp_path, capsys, monkeypatch):
    customers = tmp_path / "customers.txt"
    customers.write_text("华东医疗器械有限公司\t华东医疗\n", encoding="utf-8")
    text = "拜访华东医疗，王总(CTO)说价格高，预算一千万。明天下午3点安排技术总监做方案演示。"
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["nlp", "extract", "--today", "2026-12-01", "--customers", str(customers)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result) == ["customers", "contacts", "keywords", "feedback", "todos", "amounts", "competitors"]
    assert result["customers"] == [{"name": "华东医疗器械有限公司", "mention": "华东医疗"}]
    assert result["contacts"] == [{"name": "王总", "title": "CTO", "customer": "华东医疗器械有限公司"}]
    assert result["amounts"] == [{"text": "预算一千万", "value": 10_000_000}]
    assert {"text": "安排技术总监做方案演示", "due": "2026-12-02", "customer": "华东医疗器械有限公司"} in result["todos"]
    assert {"keyword": "价格高", "polarity": "negative", "words": "价格高"} in result["feedback"]  # "words": allowed addition


def test_nlp_extract_bad_date_and_missing_file_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("你好"))
    assert main(["nlp", "extract", "--today", "2026-13-01"]) == 2
    assert capsys.readouterr().err.strip() == "--today: 日期格式应为 YYYY-MM-DD，而不是 2026-13-01"
    assert main(["nlp", "extract", "--customers", str(tmp_path / "nope.txt")]) == 2
    assert "文件不存在" in capsys.readouterr().err
