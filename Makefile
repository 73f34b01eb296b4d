.PHONY: run test bench bench-quick chaos lint setup

run:
	@bash scripts/setup.sh
	ALLOW_LOCAL_PULUMI_STATE=true .venv/bin/infrabot run

test:
	@bash scripts/setup.sh --browser
	.venv/bin/ruff check .
	.venv/bin/pytest -q

bench:
	@bash scripts/setup.sh
	.venv/bin/python -m tests.bench

bench-quick:
	@bash scripts/setup.sh
	.venv/bin/python -m tests.bench --quick

chaos:
	@bash scripts/setup.sh
	.venv/bin/python -m tests.chaos

lint:
	.venv/bin/ruff check .

setup:
	@bash scripts/setup.sh --browser
