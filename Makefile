# keyrace — the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export TESTCONTAINERS_RYUK_DISABLED := true

GO       ?= go
BIN      := bin/keyrace
FUZZTIME ?= 10s

.PHONY: all build demo test deps vet unit fuzz bench conformance docs reference-report docker-clean test-images clean help

all: build

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

# A static binary (no cgo): it runs anywhere, and --topology puts it as it
# is into the FROM scratch reference image.
build: ## build bin/keyrace (static)
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/keyrace

demo: build ## reproduce the seed bug on two embedded services (needs only Go)
	./$(BIN) demo

test: deps test-images vet docker-clean unit ## everything CI runs: vet, unit, end-to-end, Docker and fault-matrix tests with -race
	@$(MAKE) --no-print-directory docker-clean
	@echo "make test: all passed"

# The Docker tests run the air-gapped images `make images` builds; users
# with a registry can point these at official images instead.
export KEYRACE_POSTGRES_IMAGE ?= keyrace/postgres:15
export KEYRACE_REDIS_IMAGE    ?= keyrace/redis:7

# test-images builds the Docker images the tests need when a Docker engine
# is reachable; without one the Docker tests skip (and fail under CI=true).
test-images:
	@if command -v docker >/dev/null && docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory images; \
	elif [ "$$CI" = true ]; then echo "Docker is not reachable: the Docker tests cannot run"; exit 1; \
	else echo "Docker is not reachable: the Docker tests will skip"; fi

docker-clean: ## remove containers and networks keyrace left behind (labelled org.keyrace.managed)
	@if command -v docker >/dev/null && docker info >/dev/null 2>&1; then \
	  docker ps -aq --filter label=org.keyrace.managed=true | xargs -r docker rm -f >/dev/null; \
	  docker network ls -q --filter label=org.keyrace.managed=true | xargs -r docker network rm >/dev/null; \
	fi

# deps installs the external tools the tests use when they are missing and
# this is a Debian machine we may install on: xmllint (checks JUnit files)
# and chromium (renders report.html headless). Elsewhere the tests that need
# them skip, except under CI=true, where they fail.
DEBIAN_TOOLS := xmllint:libxml2-utils chromium:chromium
deps:
	@for pair in $(DEBIAN_TOOLS); do tool=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$tool >/dev/null && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$pkg ($$tool)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null; } || exit 1; \
	  else echo "$$tool missing and cannot be installed here; its checks will skip"; fi; done

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

fuzz: ## run each fuzz target for FUZZTIME (default 10s)
	$(GO) test -run xxx -fuzz FuzzPyListRoundTrip -fuzztime $(FUZZTIME) ./wire/
	$(GO) test -run xxx -fuzz FuzzParseNotAllowed -fuzztime $(FUZZTIME) ./wire/
	$(GO) test -run xxx -fuzz FuzzParseError -fuzztime $(FUZZTIME) ./client/

# bench runs every benchmark once and prints one table: the reference
# service against a trivial handler, the checker on 1M operations, the race
# engine against raw Vegeta, detection of the seed fault and of
# invalidation-lag, and /key/generate at a fixed rate in memory and on three
# replicas in Docker. BENCH_SECONDS scales the timed parts.
BENCH_SECONDS ?= 3
bench: ## benchmarks, printed as a table (several minutes)
	@mkdir -p out
	@{ $(GO) test -run xxx -bench 'KeyGenerate$$|TrivialHandler' -benchtime 3s ./reference-impl/; \
	   $(GO) test -run xxx -bench Check1M -benchtime 1x -benchmem ./scenarios/check/; \
	   KEYRACE_BENCH_SECONDS=$(BENCH_SECONDS) $(GO) test -run xxx -bench 'EngineOverhead|DetectionLatency|InvalidationLagDetection' -benchtime 1x -timeout 30m ./scenarios/; \
	   KEYRACE_BENCH_SECONDS=$(BENCH_SECONDS) $(GO) test -run xxx -bench KeyGenerateAtRate -benchtime 1x ./topology/; } > out/bench.txt 2>&1 || { cat out/bench.txt; exit 1; }
	@awk '/^Benchmark/ { name=$$1; sub(/-[0-9]+$$/, "", name); line=sprintf("%-58s", name); \
	   for (i = 3; i < NF; i += 2) line = line sprintf("  %s %s", $$i, $$(i+1)); print line }' out/bench.txt
	@echo "(raw output: out/bench.txt)"

TARGET     ?= $(KEYRACE_TARGET)
MASTER_KEY ?= $(KEYRACE_MASTER_KEY)
FEATURES   ?= core
OUT        ?= out/conformance
conformance: build ## run the suites against TARGET=url[,url] MASTER_KEY=key [FEATURES=all] [OUT=dir]
	@test -n "$(TARGET)" || { echo "usage: make conformance TARGET=http://host:4000 MASTER_KEY=sk-... [FEATURES=all]"; exit 2; }
	./$(BIN) check --target "$(TARGET)" --master-key "$(MASTER_KEY)" --features "$(FEATURES)" --out "$(OUT)"

docs: ## regenerate the generated parts of suites/README.md (fault matrix, spec catalogue)
	$(GO) run ./suites/matrix/gen suites/README.md

reference-report: build ## regenerate reports/reference/ from two in-process reference replicas
	@set -e; ./$(BIN) serve --replicas 2 --addr 127.0.0.1:14000 --master-key sk-reference > /tmp/keyrace-ref.log 2>&1 & pid=$$!; \
	trap "kill $$pid" EXIT; for i in $$(seq 50); do curl -sf http://127.0.0.1:14001/health/liveliness >/dev/null && break; sleep 0.1; done; \
	tmp=$$(mktemp -d); ./$(BIN) check --target http://127.0.0.1:14000,http://127.0.0.1:14001 --master-key sk-reference --features all \
	  --impl-organization keyrace --impl-project keyrace-reference-service --impl-version "$$(./$(BIN) version | cut -d' ' -f2)" \
	  --impl-url https://github.com/keyrace/keyrace --impl-contact "keyrace maintainers" --out $$tmp > /dev/null; \
	cp $$tmp/conformance-report.yaml $$tmp/conformance-report.json reports/reference/; rm -rf $$tmp; \
	echo "reports/reference/: $$(grep '^summary' reports/reference/conformance-report.yaml)"

clean:
	rm -rf bin out

include fixtures/images/images.mk
