# millrun: `make run` sets up, builds and starts; `make test` runs every check.
SHELL := /bin/bash
# Honour the toolchain line in go.mod even where the environment says local.
export GOTOOLCHAIN := auto
export PATH := $(PATH):/usr/local/go/bin

BIN := build/bin/millrun
GO_FILES := $(shell git ls-files '*.go' 2>/dev/null)

.PHONY: help run serve build setup setup-test test test-go test-compat bench fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install what is missing to build and run
	@build/setup.sh run

setup-test: ## install what is missing to run the tests
	@build/setup.sh test

build: setup ## build build/bin/millrun
	go build -o $(BIN) .

run: build ## set up, build and start millrun
	$(BIN) serve

test: setup-test ## every check: gofmt, vet, race tests, compatibility suite
	@echo "== gofmt -l"
	@out="$$(gofmt -l $(GO_FILES))"; if [ -n "$$out" ]; then echo "$$out"; echo "gofmt: the files above need formatting"; exit 1; fi
	@echo "== go vet"
	go vet ./...
	@echo "== go test -race"
	go test -race -count=1 ./...
	@$(MAKE) --no-print-directory test-compat

test-compat: build ## Windmill's own client against millrun serve
	@if [ -f compat/package.json ]; then compat/run.sh $(BIN); else echo "compat suite not present"; exit 1; fi

bench: build ## benchmarks; prints ratios against baselines measured in the same run
	go run ./bench -millrun $(BIN)

fuzz: ## run each fuzz target for FUZZTIME (default 2m)
	go test ./engine/webhook -run '^$$' -fuzz FuzzBuildArgs -fuzztime $${FUZZTIME:-2m}
	go test ./engine/auth -run '^$$' -fuzz FuzzFromRequest -fuzztime $${FUZZTIME:-2m}
	go test ./engine/scripts -run '^$$' -fuzz FuzzInferSchema -fuzztime $${FUZZTIME:-2m}

clean: ## remove build output
	rm -rf build/bin compat/node_modules
