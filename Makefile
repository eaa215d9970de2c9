# quietzone — see README.md. Needs only Go; installs what else it needs.
GO      ?= go
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT     := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all demo attack soak test-privacy privacy-figures test test-load test-kill test-vcan test-system test-arm64 vet lint build cross package package-amd64 package-arm64 package-armhf package-work lint-package tools-test tools-arm64 fuzz bench clean

all: build

## demo: run the built-in drive (virtual CAN, embedded broker), print the report, draw out/demo.svg
demo:
	$(GO) run ./cmd/quietzone-bench demo --svg out/demo.svg --json out/demo.json

## attack: the boundary-inference attack with TRIPS trips past the demo's depot; out/attack.svg
TRIPS ?= 200
attack:
	$(GO) run ./cmd/quietzone-bench attack --trips $(TRIPS) --svg out/attack.svg

## test-privacy: the observer's attacks (testbench/attack) on the attack populations (a
## fleet between 14 places, PRIVACY_FLEET trips; one car near a zone, PRIVACY_CAR trips), figures
## printed and issue 14's targets asserted (PRIVACY_TARGETS=0: figures only).
## Bounded: about 2.5 minutes on two cores with the defaults; the test times out at 10.
PRIVACY_FLEET   ?= 600
PRIVACY_CAR     ?= 150
PRIVACY_TARGETS ?= 1
test-privacy:
	QUIETZONE_PRIVACY_FIGURES=1 QUIETZONE_PRIVACY_TARGETS=$(PRIVACY_TARGETS) \
	QUIETZONE_PRIVACY_TRIPS=$(PRIVACY_FLEET),$(PRIVACY_CAR) \
	  $(GO) test -count=1 -timeout 10m -run '^TestPrivacyTargets$$' -v ./testbench/attack

## privacy-figures: the full populations (1,000 fleet trips, 300 of the car) driven into out/,
## every attack scored on each (out/privacy-*.txt, .json)
privacy-figures:
	$(GO) build -o bin/quietzone-bench ./cmd/quietzone-bench
	bin/quietzone-bench sim --population fleet --wire out/fleet-wire.jsonl --truth out/fleet-truth.jsonl
	bin/quietzone-bench sim --population car --wire out/car-wire.jsonl --truth out/car-truth.jsonl
	for p in fleet car; do \
	  bin/quietzone-bench attack out/$$p-wire.jsonl --truth out/$$p-truth.jsonl | tee out/privacy-$$p.txt; \
	  bin/quietzone-bench attack out/$$p-wire.jsonl --truth out/$$p-truth.jsonl --json > out/privacy-$$p.json; \
	done

## soak: SOAK random trips from seed SEED (routes, zones, faults), every invariant checked;
## a trip depends on its seed alone: quietzone-bench sim --random --seed S --trips 1 replays it
SOAK  ?= 10000
SEED  ?= 1
NPROC ?= $(shell nproc 2>/dev/null || echo 2)
soak:
	$(GO) run ./cmd/quietzone-bench sim --random --seed $(SEED) --trips $(SOAK) --parallel $(NPROC)

## test: go vet and the race-enabled unit and integration tests (real Mosquitto, PostgreSQL, Chromium)
test: tools-test vet
	QUIETZONE_REQUIRE_MOSQUITTO=1 QUIETZONE_REQUIRE_POSTGRES=1 QUIETZONE_REQUIRE_CHROMIUM=1 $(GO) test -race -timeout 20m ./...

## test-load: the fleet's ingest under load on loopback (100,000 simulated vehicles), SQLite and
## PostgreSQL, one and two ingest processes; prints records/s (LOAD_SECONDS per run)
LOAD_SECONDS ?= 20
test-load: tools-test
	QUIETZONE_REQUIRE_MOSQUITTO=1 QUIETZONE_REQUIRE_POSTGRES=1 QUIETZONE_LOAD_SECONDS=$(LOAD_SECONDS) \
	  $(GO) test -count=1 -timeout 30m -run '^TestLoad' -v ./uplink/ingest

## test-kill: the uplink's SIGKILL loop, longer than in make test (KILL iterations)
KILL ?= 500
test-kill: tools-test
	QUIETZONE_REQUIRE_MOSQUITTO=1 QUIETZONE_KILL_ITERATIONS=$(KILL) $(GO) test -race -count=1 -timeout 90m -run '^TestSIGKILLDuringPublish$$' -v ./gateway

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## test-vcan: the SocketCAN tests on a real Linux kernel with vcan0, in a throwaway QEMU VM
VMDIR     ?= $(CURDIR)/.cache/vm
VCAN_PKGS ?= ./can/... ./gateway/... ./cmd/...
test-vcan:
	CGO_ENABLED=0 $(GO) build -o $(VMDIR)/vcanvm ./cmd/vcanvm
	cmd/vcanvm/prepare.sh $(VMDIR) $(VMDIR)/vcanvm
	CGO_ENABLED=0 VCANVM_KERNEL=$(VMDIR)/vmlinux VCANVM_MODULES=$(VMDIR)/modules \
	VCANVM_EXTRA="cansend candump canplayer" VCANVM_ENV="QUIETZONE_REQUIRE_VCAN" QUIETZONE_REQUIRE_VCAN=1 \
	  $(GO) test -count=1 -timeout 15m -exec $(VMDIR)/vcanvm -run 'VCAN' $(VCAN_PKGS)

## test-system: the amd64 package installed on a whole Debian system (systemd as PID 1,
## Mosquitto, vcan0, gpio-sim lines) in a throwaway QEMU VM; the system is built once
## from Debian's packages with mmdebstrap and cached in .cache/system
SYSDIR    ?= $(CURDIR)/.cache/system
test-system: package-amd64
	CGO_ENABLED=0 $(GO) build -o $(VMDIR)/vcanvm ./cmd/vcanvm
	cmd/vcanvm/prepare-system.sh $(SYSDIR) $(VMDIR)/vcanvm
	CGO_ENABLED=0 $(GO) build -trimpath -tags quietzone_faults -ldflags '$(LDFLAGS)' -o $(SYSDIR)/files/quietzone-faults ./cmd/quietzone
	rm -f $(SYSDIR)/files/quietzone_*.deb && cp $(PKGDIR)/quietzone_$(DEBVERSION)-1_amd64.deb $(SYSDIR)/files/
	CGO_ENABLED=0 VCANVM_IMAGE=$(SYSDIR)/rootfs.img VCANVM_KERNEL=$(SYSDIR)/vmlinux VCANVM_MODULES=$(SYSDIR)/modules \
	VCANVM_FILES="$$(echo $(SYSDIR)/files/*)" VCANVM_ENV="QUIETZONE_REQUIRE_SYSTEM" QUIETZONE_REQUIRE_SYSTEM=1 \
	  $(GO) test -count=1 -timeout 15m -exec $(VMDIR)/vcanvm -run '^TestSystem$$' -v ./cmd/quietzone

## build: static binaries in bin/: quietzone (the vehicle's), quietzone-bench (the test bench),
## quietzone-fleet (the fleet's)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/quietzone ./cmd/quietzone
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/quietzone-bench ./cmd/quietzone-bench
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/quietzone-fleet ./cmd/quietzone-fleet

# The race detector needs cgo (gcc); the integration tests need mosquitto;
# the unit test of the systemd service needs systemd-analyze (systemd); the fleet's store
# tests a real PostgreSQL (postgresql) and its console a headless Chromium (chromium).
tools-test:
	@missing=""; \
	command -v gcc >/dev/null 2>&1 || missing="$$missing gcc libc6-dev"; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(APT) update -qq && $(APT) install -y -qq --no-install-recommends $$missing; \
	fi

## cross: the vehicle's static, stamped binary for ARM head-units (linux/arm64, linux/arm GOARM=7)
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/quietzone-linux-arm64 ./cmd/quietzone
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/quietzone-linux-armv7 ./cmd/quietzone
	@ls -l bin/quietzone-linux-*

## package: Debian packages of the vehicle daemon for amd64, arm64 and armhf in bin/pkg/
## (nfpm, a pinned release run by go run), checked with Debian's lintian
NFPM       ?= github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
PKGDIR     := bin/pkg
# A Debian version that grows along main: 0~gitN.HASH (N commits), +dirty
# when the tree has changes; the package's own revision is -1.
DEBVERSION ?= $(shell n=$$(git rev-list --count HEAD 2>/dev/null || echo 0); \
  h=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
  d=$$(git diff --quiet HEAD 2>/dev/null || echo +dirty); echo "0~git$$n.$$h$$d")
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
pkg_goenv_amd64 := GOARCH=amd64
pkg_goenv_arm64 := GOARCH=arm64
pkg_goenv_armhf := GOARCH=arm GOARM=7
pkg_nfpm_amd64  := amd64
pkg_nfpm_arm64  := arm64
pkg_nfpm_armhf  := arm7
package: package-amd64 package-arm64 package-armhf lint-package
	@ls -l $(PKGDIR)/*.deb

package-amd64 package-arm64 package-armhf: package-%: package-work
	CGO_ENABLED=0 GOOS=linux $(pkg_goenv_$*) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(PKGDIR)/$*/quietzone ./cmd/quietzone
	rm -f $(PKGDIR)/quietzone_*_$*.deb
	ARCH=$(pkg_nfpm_$*) DEBVERSION='$(DEBVERSION)' BINARY=$(PKGDIR)/$*/quietzone \
	  $(GO) run $(NFPM) package --config cmd/quietzone/package/nfpm.yaml --packager deb \
	  --target $(PKGDIR)/quietzone_$(DEBVERSION)-1_$*.deb

# The copyright file (our notice and every linked module's licence) and
# the changelog entry of this build.
package-work:
	@mkdir -p $(PKGDIR)/work
	GO=$(GO) cmd/quietzone/package/copyright.sh >$(PKGDIR)/work/copyright
	@printf -- '- semver: "%s-1"\n  date: %s\n  packager: quietzone developers <dev@quietzone.invalid>\n  deb: {urgency: medium, distributions: [unstable]}\n  changes:\n    - note: "Built from commit %s."\n' \
	  '$(DEBVERSION)' "$$(date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)" '$(COMMIT)' >$(PKGDIR)/work/changelog.yml

lint-package:
	@command -v lintian >/dev/null 2>&1 || { echo "installing: lintian"; \
	  $(APT) update -qq && $(APT) install -y -qq --no-install-recommends lintian; }
	lintian --fail-on error $(PKGDIR)/*.deb

## test-arm64: the unit and integration tests built for arm64, run under qemu-user
test-arm64: tools-test tools-arm64
	CGO_ENABLED=0 GOARCH=arm64 QUIETZONE_REQUIRE_MOSQUITTO=1 \
	  QUIETZONE_TEST_EXEC=qemu-aarch64-static QUIETZONE_KILL_ITERATIONS=10 \
	  $(GO) test -count=1 -timeout 30m -exec qemu-aarch64-static ./...

tools-arm64:
	@command -v qemu-aarch64-static >/dev/null 2>&1 || { \
	  echo "installing: qemu-user-static"; \
	  $(APT) update -qq && $(APT) install -y -qq --no-install-recommends qemu-user-static; }

## lint: staticcheck (a pinned release, fetched by go run)
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint: vet
	$(GO) run $(STATICCHECK) ./...

## bench: the hot-path benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: run every fuzzer for FUZZTIME each (default 30s)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
