# make demo / make test bootstrap .venv from nothing and are idempotent.
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: demo test lint bench clean browser screenshots reliability

# Chart images need a CJK font (Debian's fonts-wqy-microhei); installed here when missing and we are root.
FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
# Voice messages are converted by ffmpeg; the voice tests speak with espeak-ng and encode AMR with opencore.
VOICE_PACKAGES := ffmpeg espeak-ng libopencore-amrnb0
# Browser tests drive Debian's Chromium (Playwright never downloads a browser here); installed when missing and root.
CHROMIUM := /usr/bin/chromium

$(STAMP): pyproject.toml
	@test -f $(FONT) || [ "$$(id -u)" != 0 ] || (apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei >/dev/null)
	@(command -v ffmpeg && command -v espeak-ng && ls /usr/lib/*/libopencore-amrnb.so.0) >/dev/null 2>&1 \
		|| [ "$$(id -u)" != 0 ] || (apt-get update -qq && apt-get install -y -qq $(VOICE_PACKAGES) >/dev/null)
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

# `make demo PORT=8001` when 8000 is taken.
PORT ?= 8000

demo: $(STAMP)
	.venv/bin/liuhen demo --port $(PORT)

browser:
	@test -x $(CHROMIUM) || [ "$$(id -u)" != 0 ] || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: $(STAMP) browser
	.venv/bin/ruff check .
	$(PY) -m pytest -n 2

# The 1000-message load tests against a real `liuhen serve` (docs/reliability.md; the rest of the matrix runs in
# `make test`); SQLite always, PostgreSQL too when LIUHEN_TEST_DATABASE_URL is set (CI sets it). One at a time:
# they measure latency.
reliability: $(STAMP)
	@test -n "$$LIUHEN_TEST_DATABASE_URL" || echo "reliability: LIUHEN_TEST_DATABASE_URL unset, SQLite lane only"
	$(PY) -m pytest tests/reliability -m reliability -p no:xdist -s

# README screenshots (docs/img/*.png), taken by the browser tests against the seeded demo.
screenshots: $(STAMP) browser
	LIUHEN_SCREENSHOTS=docs/img $(PY) -m pytest tests/browser -q -p no:xdist

lint: $(STAMP)
	.venv/bin/ruff check .

clean:
	rm -rf .venv *.egg-info
