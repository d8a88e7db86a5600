#!/usr/bin/env bash
# Substitute images for machines that cannot pull from a registry (`make offline-images`).
#
# Each image is `FROM scratch` holding this host's own binaries: the binary, the shared
# libraries `ldd` lists (at the same paths), a static busybox for `sh`/`wget`/`env`,
# the host's CA bundle, and an /etc/passwd with root, nobody and node (uid 1000).
# The real Dockerfile and docker-compose.yml then run unchanged with
#   NODE_IMAGE=lab-offline/node:host PROMETHEUS_IMAGE=lab-offline/prometheus:host REDIS_IMAGE=lab-offline/redis:host
# Needs: docker, node + npm, prometheus (Debian package), redis-server + redis-cli, busybox-static.
set -euo pipefail

NODE_TAG="${OFFLINE_NODE_IMAGE:-lab-offline/node:host}"
PROMETHEUS_TAG="${OFFLINE_PROMETHEUS_IMAGE:-lab-offline/prometheus:host}"
REDIS_TAG="${OFFLINE_REDIS_IMAGE:-lab-offline/redis:host}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

die() { echo "offline-images: $*" >&2; exit 1; }
command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd first)"
[ -x "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 || die "$BUSYBOX is not a static busybox (apt-get install busybox-static)"
[ -f "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A root filesystem skeleton: busybox applets, users, CA bundle, /tmp.
skeleton() {
  local root="$1"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/ssl/certs,tmp,home/node,root}
  chmod 1777 "$root/tmp"
  cp -L "$BUSYBOX" "$root/bin/busybox"
  # Symlinks for every applet at its usual path (sh, env, wget, ...), made here so the
  # image needs no RUN step.
  local applet
  for applet in $("$BUSYBOX" --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  cp -L "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
  cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000:node:/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
  cat >"$root/etc/group" <<'GROUP'
root:x:0:
node:x:1000:
nogroup:x:65534:
GROUP
  echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
  # COPY does not keep ownership from the build context: each Dockerfile copies this
  # empty directory with --chown onto the paths its unprivileged user must write.
  mkdir -p "$(dirname "$root")/empty"
}

# Copies a binary and every shared library ldd lists, keeping their paths.
with_libs() {
  local root="$1" bin="$2" dest="${3:-$2}"
  mkdir -p "$root/$(dirname "$dest")"
  cp -L "$bin" "$root/$dest"
  local lib
  for lib in $(ldd "$bin" | grep -oE '/[^ ]+' | sort -u); do
    mkdir -p "$root/$(dirname "$lib")"
    [ -e "$root/$lib" ] || cp -L "$lib" "$root/$lib"
  done
}

# ---- node + npm ------------------------------------------------------------
NODE_BIN="$(readlink -f "$(command -v node)")"
NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
[ -f "$NPM_DIR/package.json" ] || die "cannot find npm's package directory (got $NPM_DIR)"
root="$WORK/node/rootfs"
skeleton "$root"
with_libs "$root" "$NODE_BIN" /usr/local/bin/node
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
cat >"$WORK/node/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
COPY --chown=1000:1000 empty/ /home/node/
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    npm_config_cafile=/etc/ssl/certs/ca-certificates.crt \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
CMD ["node"]
DOCKERFILE
echo "offline-images: building $NODE_TAG from $NODE_BIN ($(node --version)) and npm $(npm --version)"
docker build -q -t "$NODE_TAG" "$WORK/node" >/dev/null

# ---- prometheus --------------------------------------------------------------
PROM_BIN="$(readlink -f "$(command -v prometheus)" 2>/dev/null)" || die "prometheus is not installed (apt-get install prometheus)"
root="$WORK/prometheus/rootfs"
skeleton "$root"
with_libs "$root" "$PROM_BIN" /bin/prometheus
if command -v promtool >/dev/null; then with_libs "$root" "$(readlink -f "$(command -v promtool)")" /bin/promtool; fi
mkdir -p "$root/etc/prometheus"
cat >"$root/etc/prometheus/prometheus.yml" <<'YAML'
global: { scrape_interval: 15s }
scrape_configs:
  - job_name: prometheus
    static_configs: [{ targets: ['localhost:9090'] }]
YAML
cat >"$WORK/prometheus/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
COPY --chown=65534:65534 empty/ /prometheus/
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
DOCKERFILE
echo "offline-images: building $PROMETHEUS_TAG from $PROM_BIN ($(prometheus --version 2>&1 | head -1))"
docker build -q -t "$PROMETHEUS_TAG" "$WORK/prometheus" >/dev/null

# ---- redis -----------------------------------------------------------------
REDIS_BIN="$(readlink -f "$(command -v redis-server)" 2>/dev/null)" || die "redis-server is not installed (apt-get install redis-server)"
root="$WORK/redis/rootfs"
skeleton "$root"
with_libs "$root" "$REDIS_BIN" /usr/local/bin/redis-server
if command -v redis-cli >/dev/null; then with_libs "$root" "$(readlink -f "$(command -v redis-cli)")" /usr/local/bin/redis-cli; fi
cat >"$WORK/redis/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
COPY --chown=65534:65534 empty/ /data/
ENV PATH=/usr/local/bin:/usr/bin:/bin
USER nobody
WORKDIR /data
EXPOSE 6379
CMD ["redis-server"]
DOCKERFILE
echo "offline-images: building $REDIS_TAG from $(command -v redis-server) ($(redis-server --version | cut -d' ' -f3))"
docker build -q -t "$REDIS_TAG" "$WORK/redis" >/dev/null

cat <<EOF2
offline-images: done. Use them with:
  export NODE_IMAGE=$NODE_TAG PROMETHEUS_IMAGE=$PROMETHEUS_TAG REDIS_IMAGE=$REDIS_TAG
(grafana and k6 have no substitute: start without them, e.g. make up SERVICES="node-1 node-2 node-3 balancer limiter prometheus")
EOF2
