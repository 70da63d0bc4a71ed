PY := .venv/bin/python

.PHONY: up down status test test-unit lint format deps rebuild bench clean staff i18n-check backup restore

up: deps ## install what is missing, start everything, wait until healthy
	$(PY) -m tools.devstack up

down: ## stop exactly what `make up` started
	@[ -x $(PY) ] && $(PY) -m tools.devstack down || echo "nothing to stop"

status:
	$(PY) -m tools.devstack status

deps:
	@bash scripts/deps.sh

test: deps ## the whole suite against real RabbitMQ, MongoDB-compatible server and SMTP
	$(PY) -m pytest

test-unit: ## the fast tier: domain, application and gateway tests with in-memory databases, no broker, no server
	@DEPS_PYTHON_ONLY=1 bash scripts/deps.sh
	TEST_TIER=unit AMQP_URI=pyamqp://guest:guest@127.0.0.1:1/ MONGO_URI=mongodb://127.0.0.1:1/ RABBIT_MANAGEMENT_URL=http://127.0.0.1:1/api \
		$(PY) -m pytest -m "not integration" -q

lint: deps
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

i18n-check: deps ## every key used in code or templates translated in both gateway/locale catalogues
	$(PY) -m tools.i18n_catalog check

format: deps
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

staff: ## create a staff account: make staff EMAIL=ola@firma.pl [FIRST=Ola LAST=Nowak] (password asked, or STAFF_PASSWORD)
	@[ -n "$(EMAIL)" ] || { echo "usage: make staff EMAIL=ola@firma.pl [FIRST=Ola LAST=Nowak]"; exit 2; }
	RPC_SIGNING_KEYS="$${RPC_SIGNING_KEYS:-$$(cat var/rpc_signing_key 2>/dev/null)}" $(PY) -m services.accounts.staff create --email "$(EMAIL)" --first-name "$(or $(FIRST),Zespół)" --last-name "$(or $(LAST),Obsługi)"

bench: deps ## figures with their baselines (own stack, nx-27017 and vhost; needs wrk): make bench [ARGS="--only dashboard"]
	$(PY) -m bench $(ARGS)

rebuild: ## rebuild a service's read models: make rebuild SERVICE=accounts (SERVICE=gateway: the gateway's views)
	$(PY) -m $(if $(filter gateway,$(SERVICE)),gateway.readmodel rebuild,kernel rebuild $(SERVICE))

backup: ## every service's event commits and the support attachments to var/backups/panel-backup-<UTC time>.tar.gz (safe while serving)
	$(PY) -m tools.backup backup

restore: ## stop the services first; load an archive (default: the newest) into empty databases, rebuild every read model: make restore [ARCHIVE=...] [SERVICE=support]
	$(PY) -m tools.backup restore $(ARCHIVE) $(if $(SERVICE),--service $(SERVICE))

clean: down
	rm -rf var/
