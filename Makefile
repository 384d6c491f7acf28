# Two commands: `make demo` and `make test`. Needs only Python 3.11 and make.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_SLUG ?= demo
DEMO_EMAIL ?= owner@demo.shop
DEMO_PASSWORD ?= demo-shop-2026
DEMO_CUSTOMERS ?= 3000

.PHONY: demo test install messages migrate lint format bench clean

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: $(PYTHON) was not found (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed messages

# Compiles locale/*/LC_MESSAGES/django.po with Babel, so no system gettext is needed.
messages: $(VENV)/.installed
	@$(VENV)/bin/pybabel compile --statistics -D django -d locale 2>&1 | grep -v "^$$" || true

migrate: install
	$(PY) manage.py migrate --noinput -v 0

demo: migrate
	$(PY) manage.py create_shop --if-missing --slug $(DEMO_SLUG) --name "Demo Coffee & Tea" \
		--owner $(DEMO_EMAIL) --password $(DEMO_PASSWORD) --timezone Europe/London --currency GBP \
		--postal-address "1 Demo Street, London, UK"
	$(PY) manage.py demo_data --shop $(DEMO_SLUG) --customers $(DEMO_CUSTOMERS) --if-empty
	@echo ""
	@echo "  Shop Insights is starting: http://$(HOST):$(PORT)/"
	@echo "  Log in as $(DEMO_EMAIL) with password $(DEMO_PASSWORD)"
	@echo "  (Ctrl-C stops the web server and the worker)"
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	  $(VENV)/bin/celery -A config worker -Q default,ingest,analytics,campaigns -c 2 --loglevel=WARNING & \
	  $(VENV)/bin/celery -A config beat --loglevel=WARNING --schedule var/celerybeat-schedule & \
	  $(PY) manage.py runserver --noreload $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var
