#!/bin/sh
# Writes deploy/.env for `docker compose -f deploy/compose.yaml`: every secret and broker
# password the stack needs, random (hex, so they are safe inside a URI). Never overwrites
# an existing file. Keep the file private; it is not in git.
set -eu
env_file="$(dirname "$0")/.env"
if [ -e "$env_file" ]; then
  echo "$env_file exists; not overwritten" >&2
  exit 0
fi
umask 077
random() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
{
  echo "SECRET_KEY=$(random 32)"
  echo "RPC_SIGNING_KEYS=$(random 32)"
  echo "SANDBOX_WEBHOOK_SECRET=$(random 32)"
  echo "RABBITMQ_ADMIN_PASSWORD=$(random 24)"
  echo "HOSTING_AGENT_KEY=$(random 32)"
  for user in ACCOUNTS BILLING DOMAINS SUPPORT NOTIFICATIONS HOSTING GATEWAY; do
    echo "RABBITMQ_${user}_PASSWORD=$(random 24)"
  done
} > "$env_file"
echo "wrote $env_file"
