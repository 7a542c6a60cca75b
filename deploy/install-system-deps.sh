#!/usr/bin/env bash
# Installs, with Debian's apt, the system programs the tests and the demo run for real:
# Prometheus (with promtool), Alertmanager (with amtool), PostgreSQL, MariaDB (the MySQL
# dialect and the ERPNext preset), VictoriaMetrics (the HA profile's long-term store),
# docker-compose v1 (only for `docker-compose config`), wrk (benchmarks) and Chromium
# (report PDFs).
# Usage: install-system-deps.sh [test|demo]. Installs only what is missing.
set -euo pipefail

profile=${1:-test}
declare -A need=(
  [prometheus]=prometheus [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager [amtool]=prometheus-alertmanager
)
if [ "$profile" = test ]; then
  need[docker-compose]=docker-compose
  need[wrk]=wrk
  need[victoria-metrics]=victoria-metrics
  need[chromium]=chromium
fi

missing=()
for binary in "${!need[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing+=("${need[$binary]}")
done
if [ "$profile" = test ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
# mariadbd lives in /usr/sbin, which is not on every user's PATH.
if [ "$profile" = test ] && ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  missing+=(mariadb-server)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "missing system packages: $packages- install them with apt-get as root" >&2
    exit 1
  fi
fi
echo "installing system packages: $packages"
export DEBIAN_FRONTEND=noninteractive
${SUDO:-} apt-get update -qq
# The Debian packages try to start their daemons; without an init system that fails
# harmlessly, and our tests and demo start their own instances on loopback anyway.
${SUDO:-} apt-get install -y -qq --no-install-recommends $packages >/dev/null
