#!/usr/bin/env bash
# Waits until every container of the compose project is healthy (or running, when it has
# no healthcheck). Compose v2 has `up --wait`; docker-compose 1.29 does not, so this works for both.
# usage: docker/wait-healthy.sh "<compose command>" [timeout seconds]
set -euo pipefail
COMPOSE="$1"
TIMEOUT="${2:-180}"
deadline=$((SECONDS + TIMEOUT))
while :; do
  ids=$($COMPOSE ps -a -q)
  pending=()
  for id in $ids; do
    status=$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
    read -r name state health <<<"$status"
    if [ "$state" = exited ] || [ "$state" = dead ] || [ "$health" = unhealthy ]; then
      echo "${name#/} is $state${health:+ ($health)}; its last log lines:" >&2
      docker logs --tail 20 "$id" >&2 || true
      exit 1
    fi
    if [ "$health" != healthy ] && { [ "$health" != none ] || [ "$state" != running ]; }; then
      pending+=("${name#/}")
    fi
  done
  if [ -n "$ids" ] && [ ${#pending[@]} -eq 0 ]; then exit 0; fi
  if [ $SECONDS -ge $deadline ]; then
    echo "not healthy after ${TIMEOUT}s: ${pending[*]:-no containers}" >&2
    exit 1
  fi
  sleep 1
done
