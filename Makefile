# The lab's commands. `make` (or `make help`) lists them.
# Docker targets use `docker compose` (v2) when present, else Debian's `docker-compose` 1.29.
# k6 runs from its image (compose profile "k6"), or a local `k6` when one is installed.

.DEFAULT_GOAL := help
SHELL := /bin/bash

# .env (when present), read as compose reads it, for the variables the targets below use: a
# variable set in the environment or on the command line wins over .env, an empty value is unset.
# Values are taken literally (no make or shell expansion); one pair of surrounding quotes is removed.
DOTENV_VARS := ADMIN_TOKEN LIMITER_PORT BALANCER_PORT PROMETHEUS_PORT GRAFANA_PORT \
	NODE1_PORT NODE2_PORT NODE3_PORT COMPOSE_PROJECT_NAME
dotenv = $(shell [ -f .env ] && sed -n -e 's/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$(1)[[:space:]]*=[[:space:]]*//p' .env | \
	tail -n 1 | sed -e "s/^'\(.*\)'[[:space:]]*$$/\1/;t" -e 's/^"\(.*\)"[[:space:]]*$$/\1/;t' -e 's/[[:space:]]\{1,\}#.*$$//;s/[[:space:]]*$$//')
$(foreach v,$(DOTENV_VARS),$(if $(filter undefined,$(origin $(v))),$(eval $(v) := $$(call dotenv,$(v)))))
$(foreach v,$(DOTENV_VARS),$(if $(value $(v)),,$(eval undefine $(v))))

COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; \
	elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)
# The scaled topology is its own compose project (docker-compose.scaled.yml says why).
PROJECT ?= $(or $(COMPOSE_PROJECT_NAME),$(shell basename "$(CURDIR)" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9_-'))
SCALED = $(COMPOSE) -p $(PROJECT)-scaled -f docker-compose.scaled.yml
LIMITERS ?= 3
# Services `make up` starts; empty = all but k6. Offline: SERVICES="node-1 node-2 node-3 balancer limiter prometheus".
SERVICES ?=
NODE ?= 2
LOAD ?= 30
NODES ?= 5
ADMIN_TOKEN ?= lab-admin
# Host ports, as compose publishes them (.env.example); the local lab (npm run lab) uses the defaults.
LIMITER_PORT ?= 8080
BALANCER_PORT ?= 8081
PROMETHEUS_PORT ?= 9090
GRAFANA_PORT ?= 3000
CONSOLE_PORT ?= 8090
NODE1_PORT ?= 5001
NODE2_PORT ?= 5002
NODE3_PORT ?= 5003
export ADMIN_TOKEN LIMITER_PORT BALANCER_PORT PROMETHEUS_PORT GRAFANA_PORT CONSOLE_PORT NODE1_PORT NODE2_PORT NODE3_PORT
# k6: a local binary when installed, else the grafana/k6 image through compose.
K6_LOCAL := $(shell command -v k6 2>/dev/null)
K6_ENV = LAB_TARGET=http://127.0.0.1:$(LIMITER_PORT) LAB_BALANCER=http://127.0.0.1:$(BALANCER_PORT) RESULTS_DIR=loadtests/results \
	NODE_URLS=http://127.0.0.1:$(NODE1_PORT),http://127.0.0.1:$(NODE2_PORT),http://127.0.0.1:$(NODE3_PORT)
# A local k6 writes its metrics to Prometheus only when one answers on PROMETHEUS_PORT (the
# compose lab's; the local lab has none, and k6 would log a failed write every 2 s).
# (Unquoted: the recipe expands it as words of `env`.)
K6_PROM_ENV = K6_OUT=experimental-prometheus-rw K6_PROMETHEUS_RW_SERVER_URL=http://127.0.0.1:$(PROMETHEUS_PORT)/api/v1/write \
	K6_PROMETHEUS_RW_TREND_STATS=p(95),p(99),avg,max K6_PROMETHEUS_RW_PUSH_INTERVAL=2s
PROM_ANSWERS = node -e "fetch('http://127.0.0.1:$(PROMETHEUS_PORT)/-/ready',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Extra k6 flags, e.g. K6_ARGS="-e BAD_ACTOR_RATE=2000 -e DURATION=30s".
K6_ARGS ?=

define need_docker
	@if [ -z "$(COMPOSE)" ]; then \
		echo "make: neither 'docker compose' nor 'docker-compose' is installed. Without Docker, run the lab as local processes: make lab" >&2; exit 1; fi
	@if ! docker info >/dev/null 2>&1; then \
		echo "make: no Docker engine answers (is dockerd running, may you use its socket?). Without Docker, run the lab as local processes: make lab" >&2; exit 1; fi
endef

# Shell prefix: C = the compose command of the running topology (the scaled one when its
# front is up, else the base one), SCALED_UP = 1 in the scaled topology.
PICK = C="$(COMPOSE)"; SCALED_UP=; if [ -n "$$($(SCALED) ps -q front 2>/dev/null)" ]; then C="$(SCALED)"; SCALED_UP=1; fi;
# A node's container: node-N in the base topology, replica N of `node` in the scaled one.
node_container = $$(if [ -n "$$SCALED_UP" ]; then docker ps -aq --filter label=com.docker.compose.project=$(PROJECT)-scaled \
	--filter label=com.docker.compose.service=node --filter label=com.docker.compose.container-number=$(1); \
	else $$C ps -a -q node-$(1); fi)
NODE_CONTAINER = $(call node_container,$(NODE))

# $(call k6,<script>) — run loadtests/<script>.ts, tagged with its scenario name.
define k6
	@mkdir -p loadtests/results && chmod a+rwx loadtests/results
	@if [ -n "$(K6_LOCAL)" ]; then \
		prom=; if $(PROM_ANSWERS); then prom="$(K6_PROM_ENV)"; \
		else echo "(no Prometheus answers on 127.0.0.1:$(PROMETHEUS_PORT): k6 metrics are not written to it)"; fi; \
		echo "k6 (local $(K6_LOCAL)) run loadtests/$(1).ts"; \
		env $(K6_ENV) $$prom k6 run $(K6_ARGS) loadtests/$(1).ts; \
	else \
		$(PICK) $$C run --rm k6 run $(K6_ARGS) /loadtests/$(1).ts; \
	fi
endef

# Shell condition: k6 can run here (a local binary, or the compose lab is up for the k6 image);
# else a target runs its Node version.
K6_RUNS_HERE = [ -n "$(K6_LOCAL)" ] || { [ -n "$(COMPOSE)" ] && docker info >/dev/null 2>&1 && [ -n "$$($(COMPOSE) ps -q limiter 2>/dev/null)" ]; }

# $(call admin,<container>,<action> <arg>) — a service's own admin API, from inside its container.
define admin
	docker exec -i $(1) node - $(2) < docker/admin.mjs
endef

# Admin targets go to the compose lab's containers when it runs, else to the local lab
# (npm run lab) over 127.0.0.1: $(call local_admin,<port>,<action> <arg>).
COMPOSE_UP = [ -n "$(COMPOSE)" ] && docker info >/dev/null 2>&1 && \
	[ -n "$$($(COMPOSE) ps -q balancer 2>/dev/null)$$($(SCALED) ps -q front 2>/dev/null)" ]
define local_admin
	ADMIN_URL=http://127.0.0.1:$(1) node docker/admin.mjs $(2)
endef

.PHONY: help
help: ## list the targets
	@echo "Load balancing & rate limiting lab"
	@echo
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Compose: $(if $(COMPOSE),$(COMPOSE),not installed)   k6: $(if $(K6_LOCAL),$(K6_LOCAL),grafana/k6 image)"

.PHONY: up
up: ## build the image, start the lab, wait until healthy, print the URLs
	$(need_docker)
	$(COMPOSE) build node-1
	$(COMPOSE) up -d $(SERVICES)
	@docker/wait-healthy.sh "$(COMPOSE)" 240
	@$(MAKE) --no-print-directory urls

.PHONY: urls
urls:
	@echo
	@echo "  edge             http://127.0.0.1:$(LIMITER_PORT)      curl -H 'X-API-Key: good-user' http://127.0.0.1:$(LIMITER_PORT)/"
	@echo "  balancer         http://127.0.0.1:$(BALANCER_PORT)      (admin: Authorization: Bearer $$ADMIN_TOKEN)"
	@echo "  prometheus       http://127.0.0.1:$(PROMETHEUS_PORT)"
	@echo "  grafana          http://127.0.0.1:$(GRAFANA_PORT)      (anonymous viewer; the lab board is home)"
	@echo "  console          http://127.0.0.1:$(CONSOLE_PORT)/     (live charts and controls: make console)"
	@echo "  nodes            http://127.0.0.1:$(NODE1_PORT) :$(NODE2_PORT) :$(NODE3_PORT)   (their admin API; base topology only)"
	@echo
	@echo "  next: make attack   make strategy S=least-connections   make slow NODE=2 LOAD=30   make kill NODE=2"

.PHONY: up-scaled
up-scaled: ## scaled: front → limiter ×3 (one Redis) → balancer → node ×N by DNS (NODES=5; run make down first)
	$(need_docker)
	$(SCALED) build front
	$(SCALED) up -d --scale limiter=$(LIMITERS) --scale node=$(NODES) $(SERVICES)
	@docker/wait-healthy.sh "$(SCALED)" 240
	@$(MAKE) --no-print-directory urls

.PHONY: scale
scale: ## scaled topology: run NODES=N nodes; the balancer picks them up by DNS, no restart
	$(need_docker)
	$(SCALED) up -d --no-deps --no-recreate --scale node=$(NODES) node
	@docker/wait-healthy.sh "$(SCALED)" 120

.PHONY: down
down: ## stop and remove everything, both topologies (containers, networks, volumes)
	$(need_docker)
	$(COMPOSE) --profile k6 --profile redis down -v --remove-orphans
	$(SCALED) --profile k6 down -v --remove-orphans

.PHONY: logs
logs: ## follow the logs of every service
	$(need_docker)
	@$(PICK) $$C logs -f --tail=50

.PHONY: ps
ps: ## list the lab's containers and their health
	$(need_docker)
	@$(PICK) $$C ps

.PHONY: attack attack-k6
attack: ## good user and bad actor at once (k6, else Node: npm run attack; thresholds: good user ≥ 99% OK, low p95)
	@if $(K6_RUNS_HERE); then \
		$(MAKE) --no-print-directory attack-k6; \
	else \
		echo "k6 is not available here: running the Node version (npm run attack)"; \
		npm run --silent attack -- $(ARGS); \
	fi
attack-k6:
	$(call k6,attack)

.PHONY: good-user
good-user: ## k6: the good user alone
	$(need_docker)
	$(call k6,good-user)

.PHONY: bad-actor
bad-actor: ## k6: the bad actor alone (K6_ARGS="-e BAD_ACTOR_RATE=10000" for the workshop's flood)
	$(need_docker)
	$(call k6,bad-actor)

.PHONY: distribution
distribution: ## k6: how requests spread over the nodes (from X-Upstream), through the balancer
	$(need_docker)
	$(call k6,distribution)

.PHONY: strategy
strategy: ## switch the balancer's strategy live: make strategy S=least-connections (compose or local lab)
	@test -n "$(S)" || { echo "usage: make strategy S=<round-robin|weighted-round-robin|random|least-connections|power-of-two|peak-ewma|consistent-hash>" >&2; exit 2; }
	@if $(COMPOSE_UP); then $(PICK) $(call admin,$$($$C ps -q balancer),put '{"strategy":"$(S)"}'); \
	else $(call local_admin,8081,put '{"strategy":"$(S)"}'); fi

.PHONY: algorithm
algorithm: ## switch every rate-limit policy's algorithm live: make algorithm A=fixed-window (compose or local lab)
	@test -n "$(A)" || { echo "usage: make algorithm A=<token-bucket|fixed-window|sliding-window-log|sliding-window-counter|gcra>" >&2; exit 2; }
	@if $(COMPOSE_UP); then $(PICK) for id in $$($$C ps -q limiter); do $(call admin,$$id,algorithm $(A)) || exit 1; done; \
	else $(call local_admin,8080,algorithm $(A)); fi

.PHONY: slow
slow: ## give a node simulated CPU load: make slow NODE=2 LOAD=30 (LOAD=0 heals it; compose or local lab)
	@if $(COMPOSE_UP); then $(PICK) id=$(NODE_CONTAINER); test -n "$$id" || { echo "no node $(NODE)" >&2; exit 1; }; \
	$(call admin,$$id,put '{"loadFactor":$(LOAD)}'); \
	else $(call local_admin,$$((5000 + $(NODE))),put '{"loadFactor":$(LOAD)}'); fi

.PHONY: kill
kill: ## kill a node (SIGKILL): make kill NODE=2
	$(need_docker)
	@$(PICK) id=$(NODE_CONTAINER); test -n "$$id" || { echo "no node $(NODE)" >&2; exit 1; }; \
	echo "killing node $(NODE) ($$id)"; docker kill -s SIGKILL $$id >/dev/null

.PHONY: revive
revive: ## start a killed node again: make revive NODE=2
	$(need_docker)
	@$(PICK) id=$(NODE_CONTAINER); test -n "$$id" || { echo "no node $(NODE)" >&2; exit 1; }; \
	echo "starting node $(NODE) ($$id)"; docker start $$id >/dev/null

# The compose lab runs its image: no dist/ build first (npm run chaos builds it for the local lab).
.PHONY: chaos
chaos: ## kill a random node every 5 s under traffic, restart it, report (ARGS="--duration 60s --every 10s"; compose or local lab)
	@if $(COMPOSE_UP); then npx --no-install tsx tools/chaos.ts --target compose $(ARGS); \
	else npm run --silent chaos -- $(ARGS); fi

# The running lab's node containers, one "node-N <container id>" per line (npm run chaos -- --target compose).
.PHONY: chaos-nodes
chaos-nodes:
	$(need_docker)
	@$(PICK) if [ -n "$$SCALED_UP" ]; then nums=$$(docker ps -a --filter label=com.docker.compose.project=$(PROJECT)-scaled \
		--filter label=com.docker.compose.service=node --format '{{.Label "com.docker.compose.container-number"}}' | sort -n); \
	else nums="1 2 3"; fi; \
	for n in $$nums; do id=$(call node_container,$$n); if [ -n "$$id" ]; then echo "node-$$n $$id"; fi; done

# Docker Swarm (deploy/swarm/): no compose needed, only the docker CLI and an engine.
.PHONY: swarm-up swarm-down
swarm-up: ## Swarm: deploy the lab as a stack (node ×3, limiter ×2 on Redis; a single-node swarm on 127.0.0.1 if none)
	deploy/swarm/swarm.sh up
	@$(MAKE) --no-print-directory swarm-urls

swarm-down: ## Swarm: remove the stack and its volumes (the swarm stays: docker swarm leave --force)
	deploy/swarm/swarm.sh down

.PHONY: swarm-urls
swarm-urls:
	@echo
	@echo "  edge             http://127.0.0.1:$(LIMITER_PORT)      (front → limiter ×2 → balancer → node ×3)"
	@echo "  prometheus       http://127.0.0.1:$(PROMETHEUS_PORT)"
	@echo "  grafana          http://127.0.0.1:$(GRAFANA_PORT)      (unless GRAFANA_REPLICAS=0)"
	@echo
	@echo "  next: docker service update --force $${SWARM_STACK:-lab}_node   docker stack ps $${SWARM_STACK:-lab}"

.PHONY: offline-images
offline-images: ## build substitute node/prometheus/redis images from this host's binaries (no pulls)
	$(need_docker)
	docker/offline/build.sh

.PHONY: lab
lab: ## the lab's services and its console as local processes, no Docker (npm run lab)
	npm run lab

.PHONY: console
console: ## open the lab console (live charts and controls) of the running lab, compose or local
	@url=http://127.0.0.1:$(CONSOLE_PORT)/; \
	node -e "fetch('$${url}healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" || \
	  { echo "nothing answers at $$url: start the lab first (make up, or make lab)" >&2; exit 1; }; \
	echo "lab console: $$url"; \
	if command -v xdg-open >/dev/null; then xdg-open "$$url" >/dev/null 2>&1 & \
	elif command -v open >/dev/null; then open "$$url"; fi

.PHONY: setup
setup: ## Debian/Ubuntu: install what the tests use (apt via sudo, your services untouched), then npm ci as you
	tools/setup.sh

.PHONY: test
test: ## the whole automated suite (npm test)
	npm test

.PHONY: bench
bench: ## the benchmarks (npm run bench; BENCH_ARGS="--quick" or "--case under-attack")
	npm run bench -- $(BENCH_ARGS)

.PHONY: dashboards
dashboards: ## regenerate grafana/dashboards/lab.json from grafana/lab-board.ts
	npm run dashboards

# ── the workshop experience (tools/, docs/LAB.md) ───────────────────────────────────────
# Work with the compose lab (make up) and the local lab (make lab) alike: same host ports.
# ARGS passes flags through, e.g. make viz-lb ARGS="--rate 50 --window 3s".

.PHONY: viz-lb
viz-lb: ## Part A: live bar chart of which node answers, through the balancer (ARGS="--rate 50")
	npm run --silent viz:lb -- $(ARGS)

.PHONY: viz-rl
viz-rl: ## Part B: good user vs bad actor through the limiter (ARGS="--bad-rate 1000")
	npm run --silent viz:rl -- $(ARGS)

# Every incident of loadtests/scenarios.json ("incidents", `-` for `_`): before, the live fix,
# after. make incident-noisy-customer: one customer's flood without a quota, then the quota on;
# make incident-strict-limit: an internal client under a too-strict limit, then raised.
incident-%: ## an incident from loadtests/scenarios.json, e.g. make incident-noisy-customer (k6, else Node)
	@if $(K6_RUNS_HERE); then \
		$(MAKE) --no-print-directory incident-k6 K6_ARGS="$(K6_ARGS) -e INCIDENT=$* -e ADMIN_TOKEN=$(ADMIN_TOKEN)"; \
	else \
		echo "k6 is not available here: running the Node fallback (npm run incident -- $*)"; \
		npm run --silent incident -- $* $(ARGS); \
	fi

.PHONY: incident-k6
incident-k6:
	$(call k6,incident)

.PHONY: polite
polite: ## a naive and a polite client side by side, same load and quota (k6, else Node: npm run polite)
	@if $(K6_RUNS_HERE); then \
		$(MAKE) --no-print-directory polite-k6; \
	else \
		echo "k6 is not available here: running the Node version (npm run polite)"; \
		npm run --silent polite -- $(ARGS); \
	fi

.PHONY: polite-k6
polite-k6:
	$(call k6,polite)

.PHONY: challenge
challenge: ## the fixed-window challenge: checks the limiter's fixed-window against the rules
	npm run --silent challenge
