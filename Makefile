# backlog-alert. `make demo` and `make test` need only Go.
GO      ?= go
BIN     := bin/backlog-alert
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: build demo test vet fmt-check clean bench fuzz fuzz-brief package fc-dir lambda-dir deploy-fc deploy-lambda build-BacklogAlertFunction

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/backlog-alert

# Runs the embedded example rules against an in-process fake alikafka
# endpoint and chat sink: no credentials, no network.
demo: build
	./$(BIN) demo

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test: fmt-check vet
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz-brief

# Each fuzz target on its seeds runs in `go test`; here each also fuzzes
# briefly (FUZZTIME each), and `make fuzz` longer.
FUZZTIME ?= 5s
FUZZ_TARGETS := ./rules:FuzzParse ./progress/alikafka:FuzzDecodeProgress ./progress/alikafka:FuzzDecodeList
fuzz-brief:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg >/tmp/fuzz-$$name.log 2>&1 || { cat /tmp/fuzz-$$name.log; exit 1; }; \
	done

fuzz:
	$(MAKE) --no-print-directory fuzz-brief FUZZTIME=2m

# Speed and memory goals: Go benchmarks of evaluation, then the real binary
# against the fake endpoint (latency, server QPS limit), as one table.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./rules
	$(GO) run ./tools/bench

clean:
	rm -rf bin dist

# ---- Deployment (see "Deploying" in README.md) -----------------------------
#
# make package  -> $(DIST)/fc.zip     backlog-alert + rules.yaml (Function Compute, s.yaml)
#                  $(DIST)/lambda.zip bootstrap + rules.yaml     (AWS Lambda, provided.al2023)
# plus the same files unpacked in $(DIST)/fc/ and $(DIST)/lambda/.
DIST ?= dist
# The rules file packed as rules.yaml: yours if ./rules.yaml exists, else the
# example (so `make package` works on a fresh clone). Override: RULES=path.
RULES ?= $(if $(wildcard rules.yaml),rules.yaml,rules/example.yaml)
# Must match Architectures in template.yaml: amd64 = x86_64, arm64 = arm64.
LAMBDA_ARCH ?= amd64
# mkzip runs on this machine: clear any GOOS/GOARCH given to make.
MKZIP := GOOS= GOARCH= $(GO) run ./tools/mkzip

package: fc-dir lambda-dir
	$(MKZIP) -o $(DIST)/fc.zip backlog-alert=$(DIST)/fc/backlog-alert rules.yaml=$(DIST)/fc/rules.yaml
	$(MKZIP) -o $(DIST)/lambda.zip bootstrap=$(DIST)/lambda/bootstrap rules.yaml=$(DIST)/lambda/rules.yaml

fc-dir:
	rm -rf $(DIST)/fc && mkdir -p $(DIST)/fc
	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/fc/backlog-alert ./cmd/backlog-alert
	cp $(RULES) $(DIST)/fc/rules.yaml && chmod 0644 $(DIST)/fc/rules.yaml

# lambda.norpc leaves out the legacy go1.x RPC server: smaller binary.
lambda-dir:
	rm -rf $(DIST)/lambda && mkdir -p $(DIST)/lambda
	GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags '$(LDFLAGS)' -o $(DIST)/lambda/bootstrap ./cmd/backlog-alert
	cp $(RULES) $(DIST)/lambda/rules.yaml && chmod 0644 $(DIST)/lambda/rules.yaml

# Called by `sam build` (Metadata.BuildMethod: makefile in template.yaml); the
# name is build-<logical ID of the function>. SAM sets ARTIFACTS_DIR.
build-BacklogAlertFunction: lambda-dir
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: this target is run by 'sam build'" >&2; exit 1; }
	cp $(DIST)/lambda/bootstrap $(DIST)/lambda/rules.yaml $(ARTIFACTS_DIR)/

# s.yaml runs `make package` itself (actions.pre-deploy).
deploy-fc:
	@command -v s >/dev/null 2>&1 || { echo "deploy-fc: Serverless Devs 's' is not installed: npm install -g @serverless-devs/s, then 's config add' (see README.md, Deploying)" >&2; exit 1; }
	s deploy -y -t s.yaml

# After the first deploy has saved samconfig.toml: make deploy-lambda SAM_DEPLOY_FLAGS=
SAM_DEPLOY_FLAGS ?= --guided
deploy-lambda:
	@command -v sam >/dev/null 2>&1 || { echo "deploy-lambda: the AWS SAM CLI 'sam' is not installed: see https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html" >&2; exit 1; }
	sam build && sam deploy $(SAM_DEPLOY_FLAGS)
