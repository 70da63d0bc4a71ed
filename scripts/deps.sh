#!/usr/bin/env bash
# Installs what the stack needs and is missing: the virtualenv with pinned
# packages, and RabbitMQ (Debian package) with its management plugin.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ] || ! cmp -s requirements.txt .venv/.requirements.txt 2>/dev/null; then
  echo "==> Python packages (.venv, pinned by requirements.txt)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  cp requirements.txt .venv/.requirements.txt
fi
# `make test-unit` needs only the Python packages: no broker, database, fonts or browser
[ -n "${DEPS_PYTHON_ONLY:-}" ] && exit 0

# Invoice PDFs need a Unicode font with Polish glyphs (DejaVu Sans).
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ -z "${INVOICE_FONT_DIR:-}" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "==> Installing fonts-dejavu-core (invoice PDFs)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null
  else
    echo "Invoice PDFs need DejaVu Sans: install fonts-dejavu-core or set INVOICE_FONT_DIR" >&2
  fi
fi

# Browser tests (tests/browser) drive Debian's headless Chromium through its own chromedriver.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "==> Installing chromium and chromium-driver (browser tests)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "The browser tests need Chromium: sudo apt-get install -y chromium chromium-driver" >&2
  fi
fi

# Accessibility checks in the browser tests: axe-core from npm, pinned by package-lock.json (node_modules/).
AXE_PINNED=$(sed -n 's/.*"axe-core": "\(.*\)".*/\1/p' package.json)
if ! grep -qs "\"version\": \"$AXE_PINNED\"" node_modules/axe-core/package.json; then
  if command -v npm >/dev/null; then
    echo "==> npm packages (axe-core for the browser tests, pinned by package-lock.json)"
    npm ci --no-audit --no-fund --silent
  else
    echo "The browser tests need npm for axe-core: sudo apt-get install -y npm" >&2
  fi
fi

# Hosting accounts: the local web server's own software (tools/hosting_server.py starts it, the agent needs root).
if ! command -v nginx >/dev/null || ! command -v php-fpm8.2 >/dev/null || [ ! -x /usr/sbin/sshd ] \
   || ! command -v mariadbd >/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "==> Installing nginx, php-fpm, php-mysql, mariadb-server and openssh-server (hosting accounts)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      nginx php-fpm php-mysql mariadb-server openssh-server >/dev/null
  else
    echo "Hosting accounts need: sudo apt-get install -y nginx php-fpm php-mysql mariadb-server openssh-server" >&2
  fi
fi

# DNS zones: the authoritative PowerDNS server with its SQLite backend (tools/pdns.py starts it).
if ! command -v pdns_server >/dev/null || [ ! -f /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "==> Installing pdns-server and pdns-backend-sqlite3 (DNS zones)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pdns-server pdns-backend-sqlite3 >/dev/null
  else
    echo "DNS zones need PowerDNS: sudo apt-get install -y pdns-server pdns-backend-sqlite3" >&2
  fi
fi

amqp_answers() { .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1', 5672), 2)" 2>/dev/null; }

if [ -z "${AMQP_URI:-}" ] && ! amqp_answers; then
  if [ "$(id -u)" != "0" ]; then
    echo "RabbitMQ does not answer on 127.0.0.1:5672. Install and start it, e.g.:" >&2
    echo "  sudo apt-get install -y rabbitmq-server && sudo rabbitmq-plugins enable rabbitmq_management && sudo rabbitmq-server -detached" >&2
    exit 1
  fi
  if ! command -v rabbitmq-server >/dev/null; then
    echo "==> Installing rabbitmq-server (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  echo "==> Starting RabbitMQ"
  rabbitmq-server -detached || true
  for _ in $(seq 1 60); do amqp_answers && break; sleep 1; done
  amqp_answers || { echo "RabbitMQ did not start; see /var/log/rabbitmq/" >&2; exit 1; }
fi

# The management plugin: the tests create their own vhost through its HTTP API.
if [ -z "${AMQP_URI:-}" ] && command -v rabbitmq-plugins >/dev/null && [ "$(id -u)" = "0" ]; then
  if ! .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1', 15672), 2)" 2>/dev/null; then
    echo "==> Enabling the RabbitMQ management plugin"
    rabbitmq-plugins enable rabbitmq_management >/dev/null
    for _ in $(seq 1 30); do
      .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1', 15672), 2)" 2>/dev/null && break; sleep 1
    done
  fi
fi
