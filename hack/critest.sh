#!/usr/bin/env bash
# Runs the CRI validation suite (critest from sigs.k8s.io/cri-tools, pinned in
# hack/tools) against a freshly started daemon with its own root, run root,
# socket, CNI network and registries.conf pointing registry.k8s.io, k8s.gcr.io
# and gcr.io at the project's loopback test registry. Removes everything it
# made (daemon, containers, mounts, bridge, iptables chains, IP leases) even
# when a step fails.
#
#   hack/critest.sh [extra critest flags, e.g. -ginkgo.focus=PodSandbox]
#
# Reports land in ${CRITEST_REPORT_DIR:-_output/critest}.
# CRITEST_BIN_DIR: use the binaries already built there (crio, crio-pause,
# testregistry, critest, crictl, and ginkgo for critest's -parallel) instead
# of building them: hack/vm.sh critest builds on the host, the VM has no Go.
# CRITEST_POST: a shell command run after the suite, before the cleanup
# (hack/vm.sh critest lists systemd's crio-* units there).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
export PATH=/usr/local/go/bin:$PATH
TAGS="containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper apparmor"

out=${CRITEST_REPORT_DIR:-$top/_output/critest}
bin=${CRITEST_BIN_DIR:-$top/_output/bin}
mkdir -p "$out" "$bin"

if [ -z "${CRITEST_BIN_DIR:-}" ]; then
  echo "building crio, critest, crictl and the test registry"
  go build -tags "$TAGS" -o "$bin/crio" ./cmd/crio
  go build -o "$bin/crio-pause" ./cmd/crio-pause
  go build -tags "$TAGS" -o "$bin/testregistry" ./hack/testregistry/cmd/testregistry
  (cd hack/tools && go test -c -o "$bin/critest" sigs.k8s.io/cri-tools/cmd/critest &&
    go build -o "$bin/crictl" sigs.k8s.io/cri-tools/cmd/crictl)
fi
# critest -parallel N runs the ginkgo command found in PATH.
export PATH=$bin:$PATH

work=$(mktemp -d /tmp/crio-critest-XXXXXX)
bridge=critest$$
bridge=${bridge:0:15}
netname=crio-critest-$$
subnet=10.234.0.0/16
crio_pid="" reg_pid=""

cleanup() {
  set +e
  echo "cleaning up $work"
  if [ -n "$crio_pid" ] && kill -0 "$crio_pid" 2>/dev/null; then
    # Remove every pod the run left, through the daemon, so that CNI DEL
    # frees IPs and portmap rules.
    "$bin/crictl" --runtime-endpoint "unix://$work/crio.sock" rmp -af >/dev/null 2>&1
    kill -TERM "$crio_pid"; wait "$crio_pid"
  fi
  # Containers outlive the daemon by design: stop the ones this run made.
  for pidfile in $(find "$work" -name conmon.pid 2>/dev/null); do
    kill -KILL "$(cat "$pidfile")" 2>/dev/null
  done
  for state in "$work"/runc/*/; do
    [ -d "$state" ] && runc --root "$work/runc" delete -f "$(basename "$state")" >/dev/null 2>&1
  done
  [ -n "$reg_pid" ] && kill -TERM "$reg_pid" 2>/dev/null && wait "$reg_pid"
  grep -o " $work[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  ip link del "$bridge" 2>/dev/null
  iptables-save 2>/dev/null | grep -q "$netname" &&
    iptables-save | grep -v "$netname" | iptables-restore
  rm -rf "/var/lib/cni/networks/$netname" "$work"
}
trap cleanup EXIT

"$bin/testregistry" -registries-conf "$work/registries.conf" > "$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 300); do grep -q "listening on" "$work/registry.log" && break; sleep 0.1; done
grep -q "listening on" "$work/registry.log" || { cat "$work/registry.log"; exit 1; }

mkdir -p "$work/cni" "$work/crio.conf.d"
cat > "$work/cni/10-critest.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$netname",
  "plugins": [
    { "type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$subnet" }]], "routes": [{ "dst": "$subnet" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
cat > "$work/crio.conf" <<EOF
[crio]
root = "$work/root"
runroot = "$work/run"
log_dir = "$work/logs"
version_file = "$work/run/version"
version_file_persist = "$work/root/version"
clean_shutdown_file = "$work/root/clean.shutdown"
[crio.api]
listen = "$work/crio.sock"
[crio.runtime]
log_level = "${CRIO_LOG_LEVEL:-info}"
container_exits_dir = "$work/run/exits"
container_attach_socket_dir = "$work/run"
namespaces_dir = "$work/run/ns"
[crio.runtime.runtimes.runc]
runtime_root = "$work/runc"
[crio.image]
registries_conf = "$work/registries.conf"
signature_policy = "$top/contrib/containers/policy.json"
[crio.network]
network_dir = "$work/cni"
plugin_dirs = ["/opt/cni/bin", "/usr/lib/cni"]
[crio.nri]
nri_listen = "$work/nri.sock"
nri_plugin_dir = "$work/nri-plugins"
nri_plugin_config_dir = "$work/nri-conf.d"
# critest holds a late plugin's Synchronize open for 2 s on purpose, as
# long as the default request timeout (CRI-O's too), which would drop it.
nri_plugin_request_timeout = "10s"
EOF
# CRITEST_CRIO_DROPIN: an extra drop-in for the daemon (debugging, other handlers).
[ -n "${CRITEST_CRIO_DROPIN:-}" ] && cp "$CRITEST_CRIO_DROPIN" "$work/crio.conf.d/90-extra.conf"
"$bin/crio" --config "$work/crio.conf" --config-dir "$work/crio.conf.d" > "$out/crio.log" 2>&1 &
crio_pid=$!
for _ in $(seq 300); do [ -S "$work/crio.sock" ] && break; sleep 0.1; done
[ -S "$work/crio.sock" ] || { tail -50 "$out/crio.log"; exit 1; }

cat > "$work/images.yaml" <<EOF
defaultTestContainerImage: registry.k8s.io/e2e-test-images/busybox:1.29-2
webServerTestImage: registry.k8s.io/e2e-test-images/nginx:1.14-2
EOF

# The digest image is pulled by an upstream digest no offline registry can
# serve; the AppArmor specs skip themselves where the kernel has no AppArmor
# (they run in hack/vm.sh critest), SELinux is absent (docs/conformance.md).
skip='public image with digest should be pulled and removed'
nri=()
[ -S "$work/nri.sock" ] && nri=(-nri-socket "$work/nri.sock")
set +e
"$bin/critest" \
  -runtime-endpoint "unix://$work/crio.sock" -image-endpoint "unix://$work/crio.sock" \
  -test-images-file "$work/images.yaml" "${nri[@]}" \
  -ginkgo.junit-report "$out/junit.xml" -ginkgo.json-report "$out/report.json" \
  -ginkgo.skip "$skip" -ginkgo.no-color "$@" 2>&1 | tee "$out/critest.log"
rc=${PIPESTATUS[0]}
[ -n "${CRITEST_POST:-}" ] && sh -c "$CRITEST_POST"
set -e
grep -E "^(Ran|FAIL!|SUCCESS!|PASS|FAIL)" "$out/critest.log" | tail -3
exit "$rc"
