#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, builds once, runs
# every test project, prints each project's duration and ends with one line
# "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

git config --global user.name >/dev/null 2>&1 || git config --global user.name "MergeQueue Tests"
git config --global user.email >/dev/null 2>&1 || git config --global user.email "tests@mergequeue.invalid"

# Tools the tests use: docker-compose validates docker-compose.yml (no Docker engine runs here).
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "Installing docker-compose (Debian package) for the compose file test..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) >/dev/null 2>&1 \
    || echo "warning: could not install docker-compose; DeploymentTests will fail"
fi
# Headless Chromium and its driver for the dashboard's browser tests (Selenium uses /usr/bin/chromedriver).
if [ ! -x /usr/bin/chromedriver ] || [ ! -x /usr/bin/chromium ]; then
  echo "Installing chromium and chromium-driver (Debian packages) for the dashboard browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
    || echo "warning: could not install chromium; DashboardBrowserTests will fail"
fi
# PostgreSQL 15 for the PostgreSQL store tests and the cluster tests (they start their own server with initdb/pg_ctl).
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "Installing PostgreSQL 15 (Debian packages) for the PostgreSQL tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15) >/dev/null 2>&1 \
    || echo "warning: could not install postgresql-15; the PostgreSQL tests will fail"
fi
# The service's build runs `npm ci` for htmx (src/MergeQueue.Service/package.json) when it is missing.
command -v npm >/dev/null 2>&1 || echo "warning: npm is missing; building the service needs it once to fetch htmx"

results=TestResults
rm -rf "$results" && mkdir -p "$results"

if ! dotnet build MergeQueue.sln -c Release -v q -nologo > "$results/build.log" 2>&1; then
  cat "$results/build.log"
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

passed=0; failed=0; status=0
for proj in tests/*/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  start=$(date +%s)
  dotnet test "$proj" -c Release --no-build -nologo --results-directory "$results/$name" \
    --blame-hang-timeout 5m --logger "trx;LogFileName=$name.trx" --logger "console;verbosity=normal" > "$results/$name.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  # VSTest's summary at normal verbosity: "Total tests: N", "     Passed: N", "     Failed: N".
  p=$(sed -nE 's/^[[:space:]]+Passed: *([0-9]+)[[:space:]]*$/\1/p' "$results/$name.log" | tail -n 1); p=${p:-0}
  f=$(sed -nE 's/^[[:space:]]+Failed: *([0-9]+)[[:space:]]*$/\1/p' "$results/$name.log" | tail -n 1); f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # a crashed test host counts as a failure
  if [ "$rc" -ne 0 ]; then
    status=1
    grep -E '^\s+(Failed|X) |Error Message|Assert|Exception' "$results/$name.log" | head -n 60
  fi
  echo "$name: $p passed, $f failed in ${secs}s"
  passed=$((passed + p)); failed=$((failed + f))
done

echo "tests: $passed passed, $failed failed"
exit $status
