# The two commands of the README: `make up` (the whole stack with a sample replay)
# and `make test` (every test against the real Kafka and PostgreSQL).
.PHONY: up down status clean test lint bootstrap bench

bootstrap:
	@./scripts/bootstrap.sh

up: bootstrap
	.venv/bin/python -m infra up

down:
	.venv/bin/python -m infra down

status:
	.venv/bin/python -m infra status

# Stop everything and forget all local state: broker data, databases, tracker stores, keys.
clean: down
	rm -rf .run

test: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/pytest

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: bootstrap
	.venv/bin/python -m bench
