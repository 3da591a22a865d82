# make demo / make test bootstrap .venv from nothing and are idempotent.
PY := .venv/bin/python
STAMP := .venv/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	.venv/bin/liuhen demo

test: $(STAMP)
	$(PY) -m pytest -n 2

lint: $(STAMP)
	.venv/bin/ruff check .

clean:
	rm -rf .venv *.egg-info
