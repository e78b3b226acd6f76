#!/usr/bin/env bash
# The README's first command: from a fresh clone to a running demo tenant whose URL is printed.
# Installs what it needs (npm packages; Docker engine, compose and debootstrap from Debian when run
# as root) or says exactly what is missing, builds the images, then provisions tenant "demo".
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null 2>&1 || { echo "demo: Node.js 20 or newer is required" >&2; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
bash scripts/setup-host.sh
node bin/tenantctl.js provision demo --name "Demo Company" "$@"
