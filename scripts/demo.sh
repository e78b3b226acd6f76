#!/usr/bin/env bash
# The README's first command: from a fresh clone to a running demo tenant whose URL is printed.
# Installs what it needs (npm packages; Docker engine, compose and debootstrap from Debian when run
# as root) or says exactly what is missing, builds the images, then provisions tenant "demo".
# Arguments are passed on to `tenantctl provision` (e.g. --plan starter, --port 8080, --json).
#
#   bash scripts/demo.sh --down    removes the demo tenant again (`tenantctl deprovision demo --yes`:
#                                  its containers, network, volumes and customers/demo/). The local
#                                  admin database (project tenantctl-admin, 127.0.0.1:5433) stays,
#                                  with the demo's record marked deprovisioned.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null 2>&1 || { echo "demo: Node.js 20 or newer is required" >&2; exit 1; }

if [ "${1:-}" = "--down" ]; then
  shift
  [ -f dist/cli.js ] || { [ -d node_modules ] || npm ci --no-audit --no-fund; npm run --silent build; }
  status=0
  node bin/tenantctl.js deprovision demo --yes "$@" || status=$?
  case "$status" in
    0) echo "demo: tenant \"demo\" removed (containers, network, volumes, customers/demo/); the local admin database keeps its record and is still running" >&2 ;;
    3) echo "demo: there is no demo tenant to remove" >&2; status=0 ;;
  esac
  exit "$status"
fi

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
bash scripts/setup-host.sh
node bin/tenantctl.js provision demo --name "Demo Company" "$@"
