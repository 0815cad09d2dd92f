# binlake — make targets. `make test` is what CI runs (.ci/run).
GO        ?= go
GOFLAGS   ?=
BIN       := bin/binlake
PKGS      := ./...
# Packages whose tests run under the race detector too (no cgo-heavy DuckDB:
# ./compaction alone, its tests on the query engine are compaction/enginetest).
RACE_PKGS := ./tableformat/... ./connectors/... ./internal/... ./compaction

.PHONY: build test test-unit test-race bench chaos lint deps osc-tools clean demo demo-clean

build: $(BIN)

$(BIN): FORCE
	$(GO) build $(GOFLAGS) -o $(BIN) ./cmd/binlake

FORCE:

# deps installs the servers the tests start as local processes.
deps:
	bash scripts/ensure-minio.sh
	bash scripts/ensure-mariadb.sh

# osc-tools installs the online schema change tools e2e/osc_test.go runs
# (gh-ost, pt-online-schema-change).
osc-tools:
	bash scripts/ensure-osc-tools.sh >/dev/null

# The timeouts are a backstop for a hung test, not a speed limit: the e2e
# package takes about 14 minutes on an idle 2-core machine and over 17 on a
# busy one, and a verdict must not depend on the machine's speed.
test: deps osc-tools lint
	$(GO) test $(GOFLAGS) -count=1 -timeout 45m $(PKGS)
	$(GO) test $(GOFLAGS) -count=1 -race -timeout 45m $(RACE_PKGS)

test-unit:
	$(GO) test $(GOFLAGS) -short -count=1 $(PKGS)

# demo: binlake's main job on a MariaDB of its own and a local lake
# (scripts/demo.sh); demo-clean stops it and removes what it made.
demo:
	bash scripts/ensure-mariadb.sh
	$(GO) build $(GOFLAGS) -o $(BIN) ./cmd/binlake
	bash scripts/demo.sh

demo-clean:
	bash scripts/demo-clean.sh

# Component benchmarks repeat 50 times; end-to-end ones (seconds each) once.
bench: deps
	$(GO) test $(GOFLAGS) -run '^$$' -bench . -benchtime 50x -timeout 60m $$($(GO) list ./... | grep -v /e2e)
	$(GO) test $(GOFLAGS) -run '^$$' -bench . -benchtime 1x -timeout 60m ./e2e

# chaos: the long fault suite (docs/reliability.md): hundreds of daemon
# kills, outages of MinIO and MariaDB, SIGTERM mid-commit; the lake is then
# compared with the source at every transaction. The figures table is
# written to CHAOS_REPORT and the test log.
CHAOS_REPORT ?= /tmp/binlake-chaos-report.md
chaos: deps
	BINLAKE_CHAOS=long BINLAKE_CHAOS_REPORT=$(CHAOS_REPORT) $(GO) test $(GOFLAGS) -count=1 -run '^(TestChaos|TestHugeTransactions)$$' -timeout 150m -v ./e2e
	@cat $(CHAOS_REPORT)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go' 2>/dev/null)); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin
