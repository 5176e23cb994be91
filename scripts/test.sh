#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need, builds, runs them.
#   npm test            (or: bash scripts/test.sh [unit|e2e])
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: oidc-token (oidc-agent-cli) proves oidc-agent compatibility.
need=()
command -v oidc-token >/dev/null 2>&1 || need+=(oidc-agent-cli)
# liboidc-agent-dev (+ liboidc-agent4) and gcc: a C client built against liboidc-agent talks to our
# agent (test/oidc-agent-clients.test.ts).
[ -f /usr/include/oidc-agent/api.h ] || need+=(liboidc-agent-dev)
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
# chromium: the code flow is driven in a real headless browser (test/code-flow-browser.test.ts).
[ -x /usr/bin/chromium ] || need+=(chromium)
# gnome-keyring + dbus: --keyring is tested against a real Secret Service on a private session bus
# (test/autoload-keyring.test.ts): gnome-keyring-daemon, dbus-daemon.
command -v gnome-keyring-daemon >/dev/null 2>&1 || need+=(gnome-keyring)
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus)
# openssh: the restricted socket is forwarded over a real ssh -R to a private sshd (test/ssh-forward.test.ts).
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
# systemd: the generated units pass systemd-analyze verify, and socket activation is exercised with
# systemd-socket-activate (test/service.test.ts). Nothing is started as a service.
[ -x /usr/bin/systemd-socket-activate ] || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing Debian packages: ${need[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test: missing Debian packages: ${need[*]} (install them, or run as root to let this script do it)" >&2
    exit 1
  fi
fi

bash scripts/setup.sh
# The tests are TypeScript too: type-check them (tsx runs them without checking).
pnpm -s exec tsc -p test/tsconfig.json
node scripts/run-tests.mjs "${1:-all}"
