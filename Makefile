# crio: a Kubernetes CRI runtime. `make help` lists the targets.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)

GO        ?= go
TAGS      := containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper apparmor
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
GOFLAGS_B := -trimpath -tags "$(TAGS)"
# Debian packages the daemon and its tests need.
DEB_PKGS  := runc crun conmon containernetworking-plugins iptables iproute2 busybox-static criu \
             libseccomp-dev util-linux ca-certificates
# hack/testregistry compiles static helper programs and fetches and unpacks Debian's busybox .deb.
DEB_PKGS  += gcc libc6-dev dpkg apt

crio.conf.example: FORCE

.PHONY: all build test kube-test kube-bench critest fuzz bench unit e2e lint install-deps install run clean clean-test-host help vm-ci vm-image vm-smoke vm-test vm-critest

all: build

build: bin/crio bin/crio-pause ## Build bin/crio and bin/crio-pause (the pods' infra process).

bin/crio: FORCE
	$(GO) build $(GOFLAGS_B) -o $@ ./cmd/crio

bin/crio-pause: FORCE
	$(GO) build -trimpath -ldflags "-s -w" -o $@ ./cmd/crio-pause

FORCE:

test: lint ## Everything CI runs: lint, unit and end-to-end tests against a real daemon, the kubelet and control-plane tests, critest, then the VM smoke (vm-ci).
	$(GO) test -tags "$(TAGS)" -count=1 -timeout 20m $$($(GO) list ./... | grep -v -e /test/e2e -e /test/kube -e /test/fuzz)
	@# The end-to-end tests run alone: the real containers of other packages'
	@# tests would only compete with them for the CPU.
	$(GO) test -tags "$(TAGS)" -count=1 -timeout 30m ./test/e2e/
	@# The CRI fuzzer: its plain tests, then a bounded run (its seeds and corpus first).
	$(GO) test -tags "$(TAGS)" -count=1 -timeout 5m ./test/fuzz/
	$(GO) test -tags "$(TAGS)" -count=1 -timeout 10m -run '^$$' -fuzz '^FuzzCRI$$' -fuzztime 2m -fuzzminimizetime 10x -parallel 1 ./test/fuzz/
	$(MAKE) kube-test
	hack/critest.sh
	$(MAKE) vm-ci

kube-test: ## A real kubelet (and control plane) of hack/kube's Kubernetes release against the daemon; the first run builds them (8-11 min on 2 cores).
	@# The build first, alone, so that its minutes count against their own
	@# timeout and not the tests'.
	$(GO) test -tags "$(TAGS)" -count=1 -timeout 40m -run '^TestKubernetesProgramsArePinned$$' ./test/kube/
	$(GO) test -tags "$(TAGS)" -count=1 -timeout 30m ./test/kube/

FUZZTIME ?= 1h
fuzz: ## Fuzz every CRI method against a real daemon for FUZZTIME (1h); findings go to test/fuzz/testdata/fuzz/FuzzCRI.
	$(GO) test -tags "$(TAGS)" -count=1 -timeout 0 -run '^$$' -fuzz '^FuzzCRI$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10x -parallel 1 ./test/fuzz/

critest: ## The CRI validation suite (critest) against a fresh daemon; report in _output/critest.
	hack/critest.sh

kube-bench: ## Pod startup latency (30 pods at once through the kubelet), this runtime and Debian's containerd in one run.
	@command -v containerd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd
	$(GO) test -tags "$(TAGS)" -run '^$$' -bench PodStartup -benchtime 3x -timeout 30m ./test/kube/

bench: ## crio vs containerd and the no-daemon floor, same run (slow; not part of test); report in _output/bench.
	hack/bench.sh $(BENCH_FLAGS)

unit: ## Unit tests only (no daemon).
	$(GO) test -tags "$(TAGS)" -count=1 -short ./...

lint: ## gofmt and go vet.
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags "$(TAGS)" ./...

install-deps: ## Install the Debian packages crio needs and a current runc (as root).
	@if ! dpkg -s $(DEB_PKGS) >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS); fi
	hack/install-runc.sh

install: build ## Install the binary, the default config, the systemd unit and the CNI bridge network.
	install -D -m 0755 bin/crio $(DESTDIR)$(BINDIR)/crio
	install -D -m 0755 bin/crio-pause $(DESTDIR)$(BINDIR)/crio-pause
	@if [ ! -e $(DESTDIR)/etc/crio/crio.conf ]; then \
	  install -D -m 0644 crio.conf.example $(DESTDIR)/etc/crio/crio.conf; fi
	install -d -m 0755 $(DESTDIR)/etc/crio/crio.conf.d
	install -D -m 0644 contrib/systemd/crio.service $(DESTDIR)/lib/systemd/system/crio.service
	@if [ ! -e $(DESTDIR)/etc/containers/policy.json ]; then \
	  install -D -m 0644 contrib/containers/policy.json $(DESTDIR)/etc/containers/policy.json; fi
	@if [ ! -e $(DESTDIR)/etc/cni/net.d/10-crio-bridge.conflist ]; then \
	  install -D -m 0644 contrib/cni/10-crio-bridge.conflist $(DESTDIR)/etc/cni/net.d/10-crio-bridge.conflist; fi

run: install-deps install ## Install everything and run the daemon in the foreground on /var/run/crio/crio.sock.
	$(DESTDIR)$(BINDIR)/crio

crio.conf.example: bin/crio ## Regenerate the example config from the code's defaults.
	bin/crio --config "" --config-dir "" config > $@

# The VM (hack/vm.sh, docs/vm.md): Debian 12 with systemd as PID 1 and cgroup v2
# only, under qemu (TCG). These targets install qemu and debootstrap themselves.
VM_E2E_FLAGS ?= -test.v -test.timeout 60m
vm-image: ## The cached VM image in /var/cache/crio-vm (debootstrap; 2.5 min cold).
	hack/vm.sh image

vm-smoke: ## Boot the VM and check systemd as PID 1, cgroup v2 only, runc; then power off.
	hack/vm.sh smoke

# The VM smoke CI runs (about 2 min warm, 5 cold): a real node's layout, systemd
# as PID 1 and cgroup v2 only, with the systemd driver: a pod whose container has
# limits, their update, stats, the units gone after removal; OOM kills reported
# as such although systemd removes the killed container's scope at once
# (issue 17). The checkpoint/restore test runs here because CRIU works on the
# VM's 6.1 kernel and not on the host's (issue 18; 15-80 s in the VM).
VM_CI_TESTS = ^(TestSystemdCgroupDriver|TestVersionAndRuntimeConfig|TestContainerExitCodeAndReasons|TestCheckpointRestoreContainerContinuesCounting)$$
vm-ci: ## The VM smoke of CI: the systemd driver's e2e tests in the VM.
	CRIO_CGROUP_MANAGER=systemd VM_INSTANCE=ci hack/vm.sh e2e -test.v -test.timeout 20m -test.run '$(VM_CI_TESTS)'

vm-test: ## The e2e tests in the VM: CRIO_CGROUP_MANAGER=cgroupfs (default), systemd or auto; VM_E2E_FLAGS='-test.run X'.
	hack/vm.sh e2e $(VM_E2E_FLAGS)

# critest in the VM (hack/critest.sh there, the binaries built on the host), with
# the systemd driver and then with cgroupfs; reports in _output/vm/critest-DRIVER.
VM_CRITEST_FLAGS ?= -parallel 2
vm-critest: ## critest in the VM with cgroup_manager systemd, then cgroupfs; VM_CRITEST_FLAGS (default -parallel 2).
	CRIO_CGROUP_MANAGER=systemd hack/vm.sh critest $(VM_CRITEST_FLAGS)
	CRIO_CGROUP_MANAGER=cgroupfs hack/vm.sh critest $(VM_CRITEST_FLAGS)

clean:
	rm -rf bin

clean-test-host: ## Remove what killed test runs left on this host (processes, mounts, cgroups, bridges under the tests' names).
	hack/clean-test-host.sh

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
