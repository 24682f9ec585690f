# share-bucket: `make test` runs everything; `make build` builds bin/bot.
#
# The tests use a real MinIO as STS and S3 peer. It is built from source
# with the Go toolchain (pinned below) into a cache outside the clone, so a
# fresh clone or CI run reuses it; the first build takes a few minutes.

MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
CACHE_DIR     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/share-bucket
MINIO_BIN     ?= $(CACHE_DIR)/minio/$(MINIO_VERSION)/minio
export MINIO_BIN

GO        ?= go
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: all build test vet minio bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/bot ./cmd/bot

test: vet $(MINIO_BIN)
	$(GO) test $(TESTFLAGS) ./...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

minio: $(MINIO_BIN)

$(MINIO_BIN):
	@echo "Installing MinIO $(MINIO_VERSION) into $(dir $@) (first time only; takes a few minutes)"
	@mkdir -p $(dir $@)
	GOFLAGS=-buildvcs=false GOBIN=$(abspath $(dir $@)) CGO_ENABLED=0 $(GO) install github.com/minio/minio@$(MINIO_VERSION)

bench: $(MINIO_BIN)
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

clean:
	rm -rf bin
