.PHONY: bootstrap test run check validate build bench clean

bootstrap:
	bash scripts/bootstrap.sh

test:
	bash scripts/test.sh

run:
	bash scripts/run.sh

check:
	bash scripts/check.sh

validate:
	bash scripts/sam.sh validate --lint

build:
	bash scripts/sam.sh build --parallel --cached

bench: bootstrap
	PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.bench_orders

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
