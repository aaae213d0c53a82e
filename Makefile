# evalapp: `make run` for the demo, `make test` for the suite. Nothing else needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < requirements-dev.lock | cut -d' ' -f1)
# LiteLLM's proxy for tests/test_llm_litellm.py, in its own environment: its pins (gunicorn<24,
# rich<14) would otherwise hold the dev environment below production's versions.
LITELLM_VENV := .venv-litellm
LITELLM_STAMP := $(LITELLM_VENV)/.installed-$(shell cksum < requirements-litellm.lock | cut -d' ' -f1)

.PHONY: run test install lint format lock worker clean check-deploy messages bench-import bench-load bench-peer bench-fetch bench-agreement bench-export bench-soak bench-coverage bench-coverage-issue23 bench-scale

$(STAMP): requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	rm -f $(VENV)/.installed-* && touch $@

# --no-deps: the lock is complete, and pip 23 under --require-hashes rejects an extra of a pinned
# dependency (litellm's httpx[http2]) as unpinned.
$(LITELLM_STAMP): requirements-litellm.lock
	test -x $(LITELLM_VENV)/bin/python || $(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-litellm.lock
	rm -f $(LITELLM_VENV)/.installed-* && touch $@

install: $(STAMP)

## Start the web server and a Celery worker with the demo study (SQLite + filesystem broker).
run: $(STAMP)
	scripts/run-dev

## Run the whole suite. DATABASE_URL / CELERY_BROKER_URL select PostgreSQL / Redis.
## Also builds .venv-litellm, the LiteLLM proxy that tests/test_llm_litellm.py starts.
test: $(STAMP) $(LITELLM_STAMP)
	SECRET_KEY=$${SECRET_KEY:-test-only-secret} SECURE_COOKIES=0 DEBUG=0 \
	CELERY_BROKER_DIR=$${CELERY_BROKER_DIR:-var/test-broker} \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Refresh the translation catalogues (locale/) from the marked strings, then compile them.
## Translate every new entry of locale/*/LC_MESSAGES/*.po before committing (docs/translation.md).
messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l de -l es --no-obsolete --no-location \
		--ignore=.venv --ignore=.venv-litellm --ignore=var --ignore=tests --ignore=bench --ignore=node_modules
	$(BIN)/python manage.py makemessages -d djangojs -l de -l es --no-obsolete --no-location \
		--ignore=.venv --ignore=.venv-litellm --ignore=var --ignore=tests --ignore=bench --ignore=node_modules
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=.venv-litellm

## Django's deployment check on the environment docker-compose gives the web service.
check-deploy: $(STAMP)
	scripts/check-deploy

## Benchmarks (not tests): print figures beside a reference measured in the same run.
bench-import: $(STAMP)
	$(BIN)/python bench/import_speed.py

bench-fetch: $(STAMP)
	$(BIN)/python bench/fetch_speed.py

bench-agreement: $(STAMP)
	$(BIN)/python bench/agreement_speed.py

bench-export: $(STAMP)
	$(BIN)/python bench/export_speed.py

bench-load: $(STAMP)
	$(BIN)/python bench/rater_load.py

## Not a test: the 1M-rating study on PostgreSQL (DATABASE_URL), its dashboard, statistics,
## bundle and opening, each beside a reference measured in the same run.
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py

## Not a test: issue 22's peer comparison (saves, next item, CPU and memory per save, SQL per
## save) on PostgreSQL and Redis, 3 rounds of 10,000 items (about 2 min on 2 cores);
## options in BENCH_ARGS, e.g. make bench-peer BENCH_ARGS="--rounds 1 --items 2000".
bench-peer: $(STAMP)
	$(BIN)/python bench/peer_compare.py $(BENCH_ARGS)

## Not a test: coverage of every agreement interval for the question it answers (about 7 min, 2 cores).
bench-coverage: $(STAMP)
	$(BIN)/python bench/coverage.py

## Not a test: coverage of the omission, correction and washout intervals alone (a few minutes).
bench-coverage-issue23: $(STAMP)
	$(BIN)/python bench/coverage.py --part issue23

## Not a test: 8 clients saving and submitting while Redis, PostgreSQL and the worker fail.
bench-soak: $(STAMP)
	$(BIN)/python bench/soak_faults.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Re-pin dependencies after editing pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --group dev --universal --generate-hashes --python-version 3.11 -q -o requirements-dev.lock
	$(BIN)/uv pip compile requirements-litellm.in --universal --generate-hashes --python-version 3.11 -q -o requirements-litellm.lock

clean:
	rm -rf $(VENV) $(LITELLM_VENV) var
