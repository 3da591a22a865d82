# make demo / make test bootstrap .venv from nothing and are idempotent.
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: demo test lint bench clean browser screenshots

# Chart images need a CJK font (Debian's fonts-wqy-microhei); installed here when missing and we are root.
FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
# Browser tests drive Debian's Chromium (Playwright never downloads a browser here); installed when missing and root.
CHROMIUM := /usr/bin/chromium

$(STAMP): pyproject.toml
	@test -f $(FONT) || [ "$$(id -u)" != 0 ] || (apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei >/dev/null)
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	.venv/bin/liuhen demo

browser:
	@test -x $(CHROMIUM) || [ "$$(id -u)" != 0 ] || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: $(STAMP) browser
	$(PY) -m pytest -n 2

# README screenshots (docs/img/*.png), taken by the browser tests against the seeded demo.
screenshots: $(STAMP) browser
	LIUHEN_SCREENSHOTS=docs/img $(PY) -m pytest tests/browser -q -p no:xdist

lint: $(STAMP)
	.venv/bin/ruff check .

clean:
	rm -rf .venv *.egg-info
