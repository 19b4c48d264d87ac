# millrun: `make run` sets up, builds and starts; `make test` runs every check.
SHELL := /bin/bash
# Honour the toolchain line in go.mod even where the environment says local.
export GOTOOLCHAIN := auto
export PATH := $(PATH):/usr/local/go/bin

# build/bin/millrun: headless (serve and the CLI), pure Go, runs anywhere.
# build/bin/millrun-desktop: the window (Wails, GTK/WebKitGTK); it starts
# build/bin/millrun as its background engine, and also has the CLI.
BIN := build/bin/millrun
DESKTOP_BIN := build/bin/millrun-desktop
DESKTOP_TAGS := desktop,production,webkit2_41
# A window can open here: build the desktop app and open it on `make run`.
HAS_DISPLAY := $(if $(DISPLAY)$(WAYLAND_DISPLAY),yes,)
# Tracked and new (not yet added) Go files: gofmt checks a file before it
# is committed.
GO_FILES := $(shell git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null)
# One version for the binaries and the packages: wails.json's productVersion.
VERSION := $(shell sed -n 's/.*"productVersion": *"\([^"]*\)".*/\1/p' wails.json)
VERSION_FLAG := -X main.version=v$(VERSION)

.PHONY: help run serve build build-desktop build-windows dist test-dist setup setup-test types types-check test test-compat test-e2e test-desktop test-windows bench soak fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install what is missing to build and run
	@build/setup.sh run

setup-test: ## install what is missing to run the tests
	@build/setup.sh test

# The frontend's types for the API's answers come from the Go structs that
# write them; tygo is pinned in tools/go.mod, outside the app's modules.
TYGO := go tool -modfile=tools/go.mod tygo generate --config tools/tygo.yaml
API_TYPES := frontend/src/lib/api-types.ts frontend/src/lib/api-flow-status.ts frontend/src/lib/api-settings.ts frontend/src/lib/api-requests.ts

types: ## regenerate frontend/src/lib/api-*.ts from the Go structs of the API's answers
	$(TYGO)

# Fails when the checked-in files are not what make types writes (and
# leaves the fresh ones in their place, ready to commit).
types-check:
	@echo "== $(API_TYPES): what make types writes"
	@before="$$(mktemp -d)"; cp $(API_TYPES) "$$before/"; $(TYGO) || exit 1; stale=""; \
	for f in $(API_TYPES); do if ! cmp -s "$$before/$$(basename $$f)" $$f; then diff -u "$$before/$$(basename $$f)" $$f | head -60; stale="$$stale $$f"; fi; done; \
	rm -rf "$$before"; if [ -n "$$stale" ]; then echo "out of date with the Go structs:$$stale: run make types and commit"; exit 1; fi

frontend/dist/index.html: $(shell git ls-files --cached --others --exclude-standard frontend 2>/dev/null | grep -v '^frontend/dist/') 
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run build

build: setup frontend/dist/index.html ## build build/bin/millrun (headless) and, where there is a display, build/bin/millrun-desktop
	CGO_ENABLED=0 go build -tags embedui -ldflags "$(VERSION_FLAG)" -o $(BIN) .
	@if [ -n "$(HAS_DISPLAY)" ]; then $(MAKE) --no-print-directory build-desktop; fi

build-desktop: frontend/dist/index.html ## build the desktop app, build/bin/millrun-desktop, with the headless engine it starts beside it
	CGO_ENABLED=0 go build -tags embedui -ldflags "$(VERSION_FLAG)" -o $(BIN) .
	go build -tags $(DESKTOP_TAGS) -ldflags "-w -s $(VERSION_FLAG)" -o $(DESKTOP_BIN) .

build-windows: frontend/dist/index.html ## cross-build the Windows desktop app, build/bin/millrun.exe (no cgo needed)
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -tags desktop,production -ldflags "-w -s -H windowsgui $(VERSION_FLAG)" -o build/bin/millrun.exe .

dist: build-desktop build-windows ## the packages a user installs, in build/dist/: a .deb and a Windows installer, with SHA256SUMS
	build/dist.sh $(VERSION) $(DESKTOP_BIN) $(BIN) build/bin/millrun.exe

test-dist: dist ## check what the packages hold
	build/check-dist.sh build/dist

run: build ## set up, build and open millrun (headless `serve` where there is no display)
	@if [ -n "$(HAS_DISPLAY)" ]; then exec $(DESKTOP_BIN); else echo "No display here: starting millrun headless; open the URL it prints in a browser."; exec $(BIN) serve; fi

# Tests reach only loopback addresses: a script's packages come from a
# loopback index the test serves, or from nowhere (a closed port).
test test-compat test-e2e test-desktop: export PIP_INDEX_URL = http://127.0.0.1:9/simple
test test-compat test-e2e test-desktop: export PIP_RETRIES = 0

test: setup-test ## every check: gofmt, vet, race tests, frontend checks, compatibility suite, UI end to end, desktop window, Windows builds under Wine, packages
	@echo "== gofmt -l"
	@out="$$(gofmt -l $(GO_FILES))"; if [ -n "$$out" ]; then echo "$$out"; echo "gofmt: the files above need formatting"; exit 1; fi
	@$(MAKE) --no-print-directory types-check
	@$(MAKE) --no-print-directory build build-desktop
	@echo "== go vet"
	go vet ./...
	go vet -tags embedui .
	go vet -tags $(DESKTOP_TAGS) ./app/ .
	@echo "== go test -race"
	go test -race -count=1 -timeout 25m ./...
	@echo "== memory under a flood (without -race: the detector's own memory would be measured)"
	set -o pipefail; go test -count=1 -run 'TestForgedSignatureFloodMemory' -v . | grep -E '^(--- |ok|FAIL)|forged posts'
	@echo "== frontend: svelte-check, vitest"
	cd frontend && npm run --silent check && npm run --silent test
	@$(MAKE) --no-print-directory test-compat test-e2e test-desktop test-windows
	@echo "== packages: the .deb and the Windows installer"
	@$(MAKE) --no-print-directory test-dist

test-compat: build ## Windmill's own client against millrun serve
	compat/run.sh $(BIN)

test-e2e: build ## the UI in Debian's Chromium against millrun serve (screenshots in e2e/test-results)
	e2e/run.sh $(BIN)

test-desktop: build-desktop ## the real desktop window under Xvfb (screenshots in e2e/test-results)
	e2e/desktop.sh $(DESKTOP_BIN)

test-windows: build-windows ## the Windows builds under Wine: serve, the data-folder lock, the API, the desktop's background engine
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -tags embedui -ldflags "$(VERSION_FLAG)" -o build/bin/millrun-headless.exe .
	e2e/wine.sh build/bin/millrun-headless.exe build/bin/millrun.exe $(VERSION)

bench: build ## benchmarks; prints ratios against baselines measured in the same run
	go run ./bench -millrun $(BIN)

soak: ## kill -9 campaign against a real serve: SOAK_ROUNDS rounds (default 12), reports lost and twice-run jobs
	MILLRUN_KILL_ROUNDS=$${SOAK_ROUNDS:-12} go test -count=1 -run TestKill9LosesNoAcceptedJob -v -timeout 30m . | grep -E 'campaign|FAIL|^ok'

fuzz: ## run each fuzz target for FUZZTIME (default 2m)
	go test ./engine/webhook -run '^$$' -fuzz FuzzBuildArgs -fuzztime $${FUZZTIME:-2m}
	go test ./engine/auth -run '^$$' -fuzz FuzzFromRequest -fuzztime $${FUZZTIME:-2m}
	go test ./engine/runtime -run '^$$' -fuzz FuzzInferSchema -fuzztime $${FUZZTIME:-2m}
	go test ./engine/triggers -run '^$$' -fuzz FuzzVerifySignature -fuzztime $${FUZZTIME:-2m}
	go test ./engine/triggers -run '^$$' -fuzz FuzzRoutePath -fuzztime $${FUZZTIME:-2m}
	go test ./engine/schedules -run '^$$' -fuzz FuzzParse -fuzztime $${FUZZTIME:-2m}

clean: ## remove build output
	rm -rf build/bin frontend/dist frontend/node_modules compat/node_modules e2e/node_modules e2e/test-results
