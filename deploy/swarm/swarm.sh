#!/usr/bin/env bash
# The lab on Docker Swarm (`make swarm-up` / `make swarm-down`):
#   deploy/swarm/swarm.sh up     single-node swarm if the engine is in none, build LAB_IMAGE,
#                                docker stack deploy, wait until every replica is healthy
#   deploy/swarm/swarm.sh down   docker stack rm, wait until its tasks are gone, remove its volumes
# SWARM_STACK names the stack (default lab). `docker stack deploy` reads no .env: the images
# (LAB_IMAGE, NODE_IMAGE, REDIS_IMAGE, PROMETHEUS_IMAGE, GRAFANA_IMAGE), the ports
# (LIMITER_PORT, PROMETHEUS_PORT, GRAFANA_PORT), the replicas (NODE_REPLICAS, LIMITER_REPLICAS,
# GRAFANA_REPLICAS) and the rest of docker-stack.yml's variables come from the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."

STACK="${SWARM_STACK:-lab}"
STACK_FILE=deploy/swarm/docker-stack.yml
TIMEOUT="${SWARM_TIMEOUT:-240}"
export LAB_IMAGE="${LAB_IMAGE:-lb-rl-lab:local}"
NODE_IMAGE="${NODE_IMAGE:-node:24.22.3-alpine3.24}"
# Host-mode published ports bind where docker_gwbridge's host_binding_ipv4 says (see below).
GWBRIDGE_BINDING='{{index .Options "com.docker.network.bridge.host_binding_ipv4"}}'

die() { echo "swarm: $*" >&2; exit 1; }
command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "no Docker engine answers (is dockerd running, may you use its socket?)"

# A single-node swarm on loopback. Swarm tasks reach the host through docker_gwbridge, and a
# host-mode published port binds on that bridge's host_binding_ipv4: created here with
# 127.0.0.1 before `swarm init` (Docker's documented way to customise it), so the lab's ports
# are on loopback only, as in the compose lab. The manager listens on 127.0.0.1:2377 only.
ensure_swarm() {
  local state
  state=$(docker info -f '{{.Swarm.LocalNodeState}}')
  if [ "$state" = inactive ]; then
    if ! docker network inspect docker_gwbridge >/dev/null 2>&1; then
      docker network create --driver bridge \
        --opt com.docker.network.bridge.name=docker_gwbridge \
        --opt com.docker.network.bridge.enable_icc=false \
        --opt com.docker.network.bridge.enable_ip_masquerade=true \
        --opt com.docker.network.bridge.host_binding_ipv4=127.0.0.1 \
        docker_gwbridge >/dev/null
    fi
    echo "swarm: this engine is in no swarm; initialising a single-node one on 127.0.0.1 (leave it with: docker swarm leave --force)"
    docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
  elif [ "$state" != active ]; then
    die "this engine's swarm state is '$state'; it must be inactive (a new single-node swarm) or active"
  fi
  [ "$(docker info -f '{{.Swarm.ControlAvailable}}')" = true ] ||
    die "this engine is a swarm worker: deploy from a manager"
  if [ "$(docker network inspect -f "$GWBRIDGE_BINDING" docker_gwbridge 2>/dev/null)" != 127.0.0.1 ]; then
    echo "swarm: warning: docker_gwbridge binds published ports on every address of this host, not 127.0.0.1 only" >&2
  fi
}

# Every service of the stack at its replica count (a task counts once it is healthy).
wait_converged() {
  local deadline=$((SECONDS + TIMEOUT)) pending
  while :; do
    pending=$(docker service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Name}} {{.Replicas}}' |
      awk '{ split($2, r, "[/ ]"); if (r[1] != r[2]) print $1 " " r[1] "/" r[2] }')
    [ -z "$pending" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      echo "swarm: not every replica is healthy after ${TIMEOUT}s:" >&2
      echo "$pending" >&2
      for service in $(echo "$pending" | cut -d' ' -f1); do
        docker service ps --no-trunc --format '  {{.Name}} {{.CurrentState}} {{.Error}}' "$service" | head -n 6 >&2
        docker service logs --tail 10 "$service" >&2 2>&1 || true
      done
      exit 1
    fi
    sleep 1
  done
}

case "${1:-}" in
  up)
    ensure_swarm
    docker build -q --force-rm -t "$LAB_IMAGE" --build-arg NODE_IMAGE="$NODE_IMAGE" . >/dev/null
    # --resolve-image never: the images are this engine's own (a single-node swarm needs no registry).
    docker stack deploy --resolve-image never --prune -c "$STACK_FILE" "$STACK"
    wait_converged
    docker stack services "$STACK" --format '  {{.Name}} {{.Replicas}}'
    ;;
  down)
    docker stack rm "$STACK" >/dev/null 2>&1 || true
    # stack rm returns at once; its tasks drain and stop (stop_grace_period), then the network goes.
    deadline=$((SECONDS + 120))
    label="label=com.docker.stack.namespace=$STACK"
    while [ -n "$(docker ps -aq --filter "$label")$(docker network ls -q --filter "$label")" ]; do
      [ $SECONDS -lt $deadline ] || die "the stack's containers or network are still there after 120 s"
      sleep 1
    done
    volumes=$(docker volume ls -q --filter "$label")
    if [ -n "$volumes" ]; then docker volume rm $volumes >/dev/null; fi
    echo "swarm: stack $STACK removed"
    ;;
  *)
    echo "usage: deploy/swarm/swarm.sh up|down" >&2
    exit 2
    ;;
esac
