#!/usr/bin/env bash
# Measures crio against Debian's containerd (its built-in CRI plugin) in the
# same run, and against the floor (the same pod work with no daemon); see
# hack/bench/main.go. Both daemons and the floor use the same runc, the same
# kind of CNI network (a private bridge, no masquerade) and the loopback
# test registry, each under its own temp dir, stopped and removed at the end.
#
#   hack/bench.sh [flags of hack/bench, e.g. -n 10 -skip-list -profile]
#
# BENCH_CRITEST=0 skips critest -benchmark. Report: _output/bench/bench.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
export PATH=/usr/local/go/bin:$PATH
TAGS="containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper apparmor"

if ! command -v containerd >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's containerd (not started as a service)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd >/dev/null
  else
    echo "containerd is missing: apt-get install -y containerd" >&2
    exit 1
  fi
fi
command -v strace >/dev/null || echo "strace is missing: spawn counts are skipped (apt-get install -y strace)" >&2

bin=$top/_output/bin
mkdir -p "$bin"
echo "building crio and the harness"
go build -trimpath -tags "$TAGS" -o "$bin/crio" ./cmd/crio
go build -trimpath -ldflags "-s -w" -o "$bin/crio-pause" ./cmd/crio-pause
go build -tags "$TAGS" -o "$bin/bench" ./hack/bench
critest=()
if [ "${BENCH_CRITEST:-1}" != 0 ]; then
  (cd hack/tools && go test -c -o "$bin/critest" sigs.k8s.io/cri-tools/cmd/critest)
  critest=(-critest "$bin/critest")
fi
exec "$bin/bench" -repo "$top" -crio "$bin/crio" -out "$top/_output/bench" "${critest[@]}" "$@"
