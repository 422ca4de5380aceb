# keyrace — the two commands a new machine needs are `make demo` and `make test`.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
export TESTCONTAINERS_RYUK_DISABLED := true

GO       ?= go
BIN      := bin/keyrace
FUZZTIME ?= 10s

.PHONY: all build demo test vet unit fuzz bench clean help

all: build

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## build bin/keyrace
	$(GO) build -o $(BIN) ./cmd/keyrace

demo: build ## reproduce the seed bug on two embedded services (needs only Go)
	./$(BIN) demo

test: vet unit ## everything CI runs: vet, unit and end-to-end tests with -race, fuzz seed corpora
	@echo "make test: all passed"

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

fuzz: ## run each fuzz target for FUZZTIME (default 10s)
	$(GO) test -run xxx -fuzz FuzzPyListRoundTrip -fuzztime $(FUZZTIME) ./wire/
	$(GO) test -run xxx -fuzz FuzzParseNotAllowed -fuzztime $(FUZZTIME) ./wire/
	$(GO) test -run xxx -fuzz FuzzParseError -fuzztime $(FUZZTIME) ./client/

bench: ## benchmarks, printed as a table
	$(GO) test -run xxx -bench . -benchmem ./reference-impl/ | tee /tmp/keyrace-bench.txt

clean:
	rm -rf bin out
