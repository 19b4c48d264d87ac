# millrun: `make run` sets up, builds and starts; `make test` runs every check.
SHELL := /bin/bash
# Honour the toolchain line in go.mod even where the environment says local.
export GOTOOLCHAIN := auto
export PATH := $(PATH):/usr/local/go/bin

BIN := build/bin/millrun
GO_FILES := $(shell git ls-files '*.go' 2>/dev/null)

.PHONY: help run serve build setup setup-test test test-compat test-e2e bench fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install what is missing to build and run
	@build/setup.sh run

setup-test: ## install what is missing to run the tests
	@build/setup.sh test

frontend/dist/index.html: $(shell git ls-files frontend 2>/dev/null | grep -v '^frontend/dist/') 
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build

build: setup frontend/dist/index.html ## build build/bin/millrun (engine, CLI and the UI)
	go build -tags embedui -o $(BIN) .

run: build ## set up, build and start millrun
	$(BIN) serve

test: setup-test ## every check: gofmt, vet, race tests, frontend checks, compatibility suite, UI end to end
	@echo "== gofmt -l"
	@out="$$(gofmt -l $(GO_FILES))"; if [ -n "$$out" ]; then echo "$$out"; echo "gofmt: the files above need formatting"; exit 1; fi
	@$(MAKE) --no-print-directory build
	@echo "== go vet"
	go vet ./...
	go vet -tags embedui .
	@echo "== go test -race"
	go test -race -count=1 ./...
	@echo "== frontend: svelte-check, vitest"
	cd frontend && npm run --silent check && npm run --silent test
	@$(MAKE) --no-print-directory test-compat test-e2e

test-compat: build ## Windmill's own client against millrun serve
	compat/run.sh $(BIN)

test-e2e: build ## the UI in Debian's Chromium against millrun serve (screenshots in e2e/test-results)
	e2e/run.sh $(BIN)

bench: build ## benchmarks; prints ratios against baselines measured in the same run
	go run ./bench -millrun $(BIN)

fuzz: ## run each fuzz target for FUZZTIME (default 2m)
	go test ./engine/webhook -run '^$$' -fuzz FuzzBuildArgs -fuzztime $${FUZZTIME:-2m}
	go test ./engine/auth -run '^$$' -fuzz FuzzFromRequest -fuzztime $${FUZZTIME:-2m}
	go test ./engine/scripts -run '^$$' -fuzz FuzzInferSchema -fuzztime $${FUZZTIME:-2m}

clean: ## remove build output
	rm -rf build/bin frontend/dist frontend/node_modules compat/node_modules e2e/node_modules e2e/test-results
