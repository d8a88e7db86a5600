#!/usr/bin/env bash
# Unpacks Debian trixie packages that Debian 12 lacks (Compose v2's docker-compose 2.x, kustomize)
# into DEST, leaving this machine's apt state untouched: a sources list and package lists of its
# own (kept under /var/tmp, so a second call only revalidates them), `apt-get download`, then
# `dpkg-deb -x` (no maintainer scripts, no dependencies pulled in: callers pick packages whose
# only need is Debian 12's libc). Needs root (apt-get download as root; .ci/run, or setup.sh's sudo).
#
# usage: tools/trixie-deb.sh DEST PACKAGE...
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DEST PACKAGE..." >&2; exit 2; }
dest=$1
shift

state=/var/tmp/lb-rl-lab-trixie-apt
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$dest"
cat >"$state/trixie.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_trixie=(-o "Dir::Etc::SourceList=$state/trixie.sources" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache" -o APT::Sandbox::User=root)
apt-get "${apt_trixie[@]}" update -qq

debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
(cd "$debs" && apt-get "${apt_trixie[@]}" download -qq "$@")
for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$dest"; done
