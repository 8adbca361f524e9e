.PHONY: bootstrap test run check validate scan build bench soak openapi routes clean

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

scan:
	bash scripts/scan.sh

build:
	bash scripts/sam.sh build --parallel --cached

openapi:
	bash scripts/openapi.sh

routes: bootstrap
	PYTHONPATH=.:layers/loyalty .venv/bin/python -m devtools.routes --check

soak:
	bash scripts/soak.sh

bench: bootstrap
	PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.bench_orders
	PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.bench_api
	PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.bench_jobs
	PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.bench_kpis
	PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.bench_history
	PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.cold_imports
	PYTHONPATH=.:layers/loyalty .venv/bin/python -m bench.bench_import

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
