#!/usr/bin/env bash
# Installs everything the test suite needs, then runs it. The README's test command and
# CI (.ci/run) both run exactly this. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Foreign programs the interop tests talk to: curl (client), nginx (upstream/peer server),
# Chromium + ChromeDriver (the upload-progress page in a real browser), redis-server (the
# Redis upload-progress store).
need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "tests/run.sh: the tests need ${need[*]}; install them (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
export PATH="$PATH:/usr/sbin"

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest "$@"
