#!/usr/bin/env bash
# `make setup` / `npm run setup`: a Debian/Ubuntu laptop gets what the tests and benchmarks use
# (redis-server, prometheus + promtool, nginx, haproxy, wrk, busybox-static, chromium, docker-compose, kustomize;
# Docker only when there is none), then `npm ci` as you. Unlike .ci/run (CI's own, for a
# throwaway root machine):
# - apt runs through sudo; npm ci runs as the checkout's owner (`sudo make setup` included), so
#   node_modules is never root's in your checkout;
# - services you already run are left alone (nothing is stopped or disabled), and a daemon
#   this install adds is neither started (policy-rc.d) nor left enabled;
# - an existing Docker (Docker CE, Docker Desktop, docker.io) is never replaced.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(redis-server prometheus nginx haproxy wrk busybox-static chromium ca-certificates)
# The Debian daemons those packages bring; the tests start their own on free ports.
DAEMONS=(redis-server prometheus nginx haproxy)

# The user who owns the checkout runs npm ci (`sudo make setup` still installs as them).
OWNER="$(ls -ld . | awk '{print $3}')" # (macOS has no stat -c)
as_owner() {
  if [ "$(id -un)" = "$OWNER" ]; then "$@"
  elif [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
    runuser -u "$OWNER" -- env HOME="$(getent passwd "$OWNER" | cut -d: -f6)" "$@"
  else sudo -u "$OWNER" -H -- "$@"; fi
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -- "$@"; fi; }

if ! command -v apt-get >/dev/null; then
  echo "setup: no apt-get here (not Debian/Ubuntu): install redis-server, prometheus, nginx, haproxy, wrk and chromium" >&2
  echo "  yourself (macOS: brew install redis prometheus nginx haproxy wrk); the compose test and" >&2
  echo "  make offline-images need Linux. Running npm ci only." >&2
  as_owner npm ci --no-audit --no-fund
  exit 0
fi

if command -v docker >/dev/null; then
  echo "== Docker: $(docker --version) is installed, left as it is"
else
  PACKAGES+=(docker.io)
  # Compose v2 (`docker compose`) is its own package on Ubuntu; Debian 12 has none.
  if apt-cache show docker-compose-v2 >/dev/null 2>&1; then PACKAGES+=(docker-compose-v2); fi
fi
# The tests' config checks run `docker-compose` (Debian's 1.29: a client only, it does not
# replace any Docker; --no-install-recommends keeps docker.io out).
command -v docker-compose >/dev/null || PACKAGES+=(docker-compose)
# kustomize renders deploy/k8s in its test: a package on Ubuntu and Debian 13; on Debian 12,
# trixie's, unpacked into /usr/local/bin below (tools/trixie-deb.sh, the way .ci/run does).
KUSTOMIZE_FROM_TRIXIE=
if ! command -v kustomize >/dev/null; then
  if apt-cache show kustomize >/dev/null 2>&1; then PACKAGES+=(kustomize); else KUSTOMIZE_FROM_TRIXIE=1; fi
fi
command -v npm >/dev/null || PACKAGES+=(npm) # any npm: npm ci then brings the project's Node 24
# Only what is missing: an installed package is the user's, not upgraded (nor restarted) here.
installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
MISSING=()
for package in "${PACKAGES[@]}"; do installed "$package" || MISSING+=("$package"); done

has_systemd() { [ -d /run/systemd/system ]; }
# Which daemons exist before the install: those are the user's, never touched.
declare -A EXISTED=()
for daemon in "${DAEMONS[@]}"; do
  if [ -e "/lib/systemd/system/$daemon.service" ] || [ -e "/etc/init.d/$daemon" ]; then EXISTED[$daemon]=1; fi
done

if [ ${#MISSING[@]} -eq 0 ]; then
  echo "== Debian packages: all installed"
else
  echo "== apt-get install ${MISSING[*]}"
  # policy-rc.d exit 101: maintainer scripts must not start any daemon (invoke-rc.d and
  # deb-systemd-invoke honour it). An existing policy-rc.d is the machine's own: kept as it is.
  POLICY=/usr/sbin/policy-rc.d
  if [ ! -e "$POLICY" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY && chmod 755 $POLICY"
    trap 'as_root rm -f "$POLICY"' EXIT
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${MISSING[@]}"

  # A daemon this install added: not left enabled (and stopped, should anything have started it).
  for daemon in "${DAEMONS[@]}"; do
    [ -n "${EXISTED[$daemon]:-}" ] && continue
    if has_systemd; then
      as_root systemctl disable --now "$daemon" >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null; then
      as_root update-rc.d "$daemon" disable >/dev/null 2>&1 || true
    fi
    echo "   $daemon: installed, not started, not enabled"
  done
fi

if [ -n "$KUSTOMIZE_FROM_TRIXIE" ]; then
  echo "== kustomize from Debian trixie into /usr/local/bin"
  kustomize_pkg=$(mktemp -d)
  # (Needs Debian's archive keyring: an Ubuntu without a kustomize package may not have it.)
  if as_root tools/trixie-deb.sh "$kustomize_pkg" kustomize; then
    as_root install -m 0755 "$kustomize_pkg/usr/bin/kustomize" /usr/local/bin/kustomize
  else
    echo "setup: kustomize could not be fetched from Debian trixie; install it yourself (the Kubernetes manifests test skips without it)" >&2
  fi
  as_root rm -rf "$kustomize_pkg"
fi

echo "== npm ci (as $OWNER)"
as_owner npm ci --no-audit --no-fund

if command -v docker >/dev/null && ! docker info >/dev/null 2>&1; then
  echo "note: your user cannot reach the Docker engine; to use it without sudo: sudo usermod -aG docker $OWNER (then log in again)"
fi
echo "setup done: npm test runs everything this machine has (its summary lists what it skipped); k6 is optional (make attack falls back to Node)"
