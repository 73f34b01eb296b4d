.PHONY: run test test-unit bench bench-quick bench-seeded chaos lint setup

run:
	@bash scripts/setup.sh
	ALLOW_LOCAL_PULUMI_STATE=true .venv/bin/infrabot run

test:
	@bash scripts/setup.sh --browser
	.venv/bin/ruff check .
	.venv/bin/pytest -q

# Pure logic on fakes of the core's ports (tests/fakes.py): no servers, seconds. `make test` runs these too.
test-unit:
	@bash scripts/setup.sh
	.venv/bin/pytest -q -p no:cacheprovider -p no:simcord tests/unit

bench:
	@bash scripts/setup.sh
	.venv/bin/python -m tests.bench

bench-quick:
	@bash scripts/setup.sh
	.venv/bin/python -m tests.bench --quick

# The Slack comparison on an empty store, then after seeding 10,000 finished jobs and 100,000 messages.
bench-seeded:
	@bash scripts/setup.sh
	.venv/bin/python -m tests.bench --seeded

chaos:
	@bash scripts/setup.sh
	.venv/bin/python -m tests.chaos

lint:
	.venv/bin/ruff check .

setup:
	@bash scripts/setup.sh --browser
