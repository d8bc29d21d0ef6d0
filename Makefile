# creditmeter — run `make help` for the targets.
GO        ?= go
BIN       := bin/creditmeter
SAMPLE    := sample
SAMPLE_EVENTS ?= 200000
SAMPLE_NOW    ?= 2026-04-06T00:00:00Z
BENCH_EVENTS  ?= 1000000
SHARD_BENCH_EVENTS ?= 300000
SHARD_COUNTS  ?= 1 2 4
FUZZTIME  ?= 15s
FUZZMIN   ?= 5s
# the version creditmeter --version prints: the commit, described by git ("dev" outside a checkout)
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.DEFAULT_GOAL := help
FAULT_EVENTS  ?= 1000000
FAULT_TRIALS  ?= 10
FAULT_TENANTS ?= 12
BATCH_SEEDS   ?= 50

.PHONY: help build run sample test test-go s3 s3-install bench-pull fuzz bench bench-10m bench-100m shard-bench lint clean e2e fault batches

help: ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/creditmeter (creditmeter --version shows VERSION)
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/creditmeter

$(SAMPLE)/creditmeter.yaml:
	$(GO) run ./cmd/creditmeter generate --events $(SAMPLE_EVENTS) --tenants 12 --seed 7 --out $(SAMPLE)

sample: $(SAMPLE)/creditmeter.yaml ## generate the sample dataset under sample/ (once)

run: build sample ## run the pipeline on the bundled sample data (no server needed)
	$(BIN) run --config $(SAMPLE)/creditmeter.yaml --now $(SAMPLE_NOW)
	@echo
	@echo "Reports are in $(SAMPLE)/out:"
	@echo "  ledger:    $(SAMPLE)/out/ledger/period_usage.csv, $(SAMPLE)/out/ledger/rated_events.parquet"
	@echo "  usage:     $(SAMPLE)/out/usage/<tenant>/ (CSV and ai_credits.xlsx, anonymized), $(SAMPLE)/out/restricted/usage/<tenant>/"
	@echo "  invoices:  $(SAMPLE)/out/invoices/register.csv, one .xlsx and .csv per invoice"
	@echo "  notices:   $(SAMPLE)/out/notifications/outbox.jsonl"
	@echo "  analysts:  $(SAMPLE)/out/analytics/warehouse.duckdb (bin/creditmeter query --warehouse ... \"SQL\")"
	@echo "  manifest:  $(SAMPLE)/out/runs/"
	@echo "  warehouse: $(SAMPLE)/var/warehouse.duckdb"

test: test-go fuzz ## run every test, then short fuzz runs

test-go: s3-install ## vet and test (the S3 tests start their own versitygw)
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

s3-install: ## install the S3 test server (versitygw) into .cache/bin, once
	scripts/s3server.sh install

s3: ## run a local S3-compatible server (versitygw) by hand; Ctrl-C stops it
	scripts/s3server.sh start

bench-pull: s3-install ## pull throughput from the local S3 server: 1,000 objects of ~1 MB gzip, pool vs one stream
	$(GO) test -run='^$$' -bench=BenchmarkPull -benchtime=1x -timeout 30m ./pipeline/pull/

fuzz: ## fuzz the event parser (values, not just counts), loading and the funding waterfall briefly
	$(GO) test -run='^$$' -fuzz=FuzzRoundTrip -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMIN) ./pipeline/parse/
	$(GO) test -run='^$$' -fuzz=FuzzArbitrary -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMIN) ./pipeline/parse/
	$(GO) test -run='^$$' -fuzz=FuzzDigestStable -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMIN) ./pipeline/parse/
	$(GO) test -run='^$$' -fuzz=FuzzLoad -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMIN) ./pipeline/load/
	$(GO) test -run='^$$' -fuzz=FuzzWaterfall -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMIN) ./pipeline/fund/

e2e: build ## end-to-end suites through the binary (kill -9, batches, re-run) at small sizes; also part of make test
	CREDITMETER_BIN=$(BIN) $(GO) test -count=1 -v -timeout 20m ./internal/e2e/

fault: build ## kill -9 at random points of a 1M-event run, FAULT_TRIALS per scenario (FAULT_SEED=S replays)
	CREDITMETER_BIN=$(BIN) CREDITMETER_FAULT_EVENTS=$(FAULT_EVENTS) CREDITMETER_FAULT_TRIALS=$(FAULT_TRIALS) \
	CREDITMETER_FAULT_TENANTS=$(FAULT_TENANTS) $(if $(FAULT_SEED),CREDITMETER_FAULT_SEED=$(FAULT_SEED)) \
	$(GO) test -count=1 -v -timeout 300m -run 'TestKillNineThenRerun' ./internal/e2e/

batches: build ## batches-do-not-matter and re-run properties over BATCH_SEEDS seeds
	CREDITMETER_BIN=$(BIN) CREDITMETER_BATCH_SEEDS=$(BATCH_SEEDS) \
	$(GO) test -count=1 -v -timeout 60m -run 'TestBatchesDoNotMatter|TestRerunRewritesNothing' ./internal/e2e/

bench: ## benchmark a full run on generated data (BENCH_EVENTS, default 1M)
	CREDITMETER_BENCH_EVENTS=$(BENCH_EVENTS) $(GO) test -run='^$$' -bench=BenchmarkRun -benchtime=1x -timeout 60m ./jobs/
	$(GO) test -run='^$$' -bench=. -benchtime=2s ./pipeline/fund/ ./fixtures/generator/

bench-10m: ## the same benchmark at 10M events
	$(MAKE) bench BENCH_EVENTS=10000000

bench-100m: ## generate 100M events (gzipped JSON Lines), run from scratch: time per stage, peak RSS, disk; data deleted after
	scripts/bigrun.sh 100000000

shard-bench: ## time a sharded round as SHARD_COUNTS (1 2 4) shards vs one machine on SHARD_BENCH_EVENTS events; bytes each shard read
	scripts/shardbench.sh $(SHARD_BENCH_EVENTS) "$(SHARD_COUNTS)"

lint: ## gofmt, go vet and staticcheck (SA1019 off: the issue pins feature/s3/manager)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.6.1 -checks 'inherit,-SA1019' ./...

clean: ## remove build outputs and the sample
	rm -rf bin $(SAMPLE)
