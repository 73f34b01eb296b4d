.PHONY: run test bench lint setup

run:
	@bash scripts/setup.sh
	.venv/bin/infrabot run

test:
	@bash scripts/setup.sh --browser
	.venv/bin/ruff check .
	.venv/bin/pytest -q

bench:
	@bash scripts/setup.sh
	.venv/bin/python -m tests.bench

lint:
	.venv/bin/ruff check .

setup:
	@bash scripts/setup.sh --browser
