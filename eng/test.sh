#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (from Debian's packages) when it
# is missing, then builds and runs the whole suite, then the consumer test (eng/consumer-test.sh).
# CI runs this same script through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, as "command:package".
needs=(
  redis-server:redis-server   # Redis tests start their own servers (redis-cli comes with it)
  chromium:chromium           # browser tests drive it headless through Playwright
  curl:curl                   # the consumer test fetches the browser client from a fresh app
  node:nodejs                 # the browser client's npm package: type check, pack
  npm:npm
)

missing=()
for need in "${needs[@]}"; do
  command -v "${need%%:*}" >/dev/null 2>&1 || missing+=("${need##*:}")
done
if ((${#missing[@]})); then
  echo "Installing ${missing[*]} ..."
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

status=0

# The browser client's npm package (src/browser): its types compile against a usage file, and agree
# with the types generated from docs/schema (json-schema-to-typescript), with the tools that
# package-lock.json pins, and it packs into artifacts/npm. The tests check what the package holds and
# that its version is the NuGet packages' version.
mkdir -p artifacts/npm
# (Chained with &&: set -e does not apply on the left of ||.)
(
  cd src/browser &&
  npm ci --no-audit --no-fund --loglevel=error &&
  npm run --silent typecheck &&
  npm pack --pack-destination ../../artifacts/npm --loglevel=error
) || { echo "The browser client's npm package failed its checks." >&2; status=1; }

# The AsyncAPI document (docs/asyncapi.yaml): the AsyncAPI parser that eng/asyncapi's
# package-lock.json pins reads it and the schemas it refers to, and its examples are checked against
# them (eng/asyncapi/check.mjs).
(
  cd eng/asyncapi &&
  npm ci --no-audit --no-fund --loglevel=error &&
  npm run --silent check
) || { echo "docs/asyncapi.yaml failed its checks." >&2; status=1; }

rm -f tests/*/bin/*/*/measurements.txt
dotnet test --solution Uploadista.Events.sln "$@" || status=$?

# Figures the tests measured (recovery times and the like), for the log.
for file in tests/*/bin/*/*/measurements.txt; do
  [ -f "$file" ] && { echo "Measured:"; cat "$file"; }
done

# The packages as a user installs them, in a fresh app (about a minute). A run given arguments (a
# filtered run while working) leaves it out; CI gives none.
if (($# == 0)); then
  eng/consumer-test.sh || status=1
fi
exit $status
