#!/usr/bin/env bash
# Removes what a killed test run (make test, make kube-bench) left on this
# host. Test cleanups do this themselves, but a SIGKILL skips them, and what
# stays behind poisons the next run on the same machine: a kubelet's cAdvisor
# walks every cgroup on the host and asks the runtime about each crio-<id>
# one it finds (3 s per unknown container), so a node with stale cgroups
# never became ready. Only what the test harness names is touched:
# /tmp/crio-{e2e,kube,bin,bench}-*, cgroups /crio-kube-*, bridges ckube* and
# make bench's bcrio*, bctrd*, bflr* (with their /var/lib/cni/networks/bench-*
# leases), /var/log/containers links into the test directories, and the
# /run/netns/cni-* and bench floor's bflr-* pins that no process uses.
set -uo pipefail
shopt -s nullglob

dirs=(/tmp/crio-e2e-* /tmp/crio-kube-* /tmp/crio-bin-* /tmp/crio-bench-*)
# The same directories, as a pattern for command lines and mount points.
testdirs='/tmp/crio-\(e2e\|kube\|bin\|bench\)-'

# make bench's containers run in no test cgroup: kill them through the runc
# state kept in its directories (crio's and containerd's runc roots, the
# floor's) while runc still knows them.
runc=$(command -v runc || echo /usr/local/bin/runc)
bench=(/tmp/crio-bench-*)
((${#bench[@]})) && for st in $(find "${bench[@]}" -maxdepth 5 -name state.json -path '*/runc/*' 2>/dev/null); do
	c=$(dirname "$st")
	"$runc" --root "$(dirname "$c")" delete --force "$(basename "$c")" >/dev/null 2>&1
done

# Processes: whatever runs from a test directory (daemons, conmon, kubelets,
# containerd) and whatever sits in a test cgroup (the containers).
pids=$(
	for p in /proc/[0-9]*; do
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "$testdirs" && echo "${p#/proc/}"
	done
	find /sys/fs/cgroup -path '*/crio-kube-*' -name cgroup.procs -exec cat {} + 2>/dev/null
)
pids=$(echo "$pids" | grep -vx "$$" | sort -u)
if [[ -n $pids ]]; then
	echo "clean-test-host: killing $(echo "$pids" | wc -l) leftover test processes"
	kill -9 $pids 2>/dev/null
	sleep 1
fi

# Mounts below the test directories, deepest first.
awk '{print $5}' /proc/self/mountinfo | grep "^$testdirs" | sort -r |
	while read -r m; do umount -l "$m" 2>/dev/null; done

# containerd's pinned pod network namespaces that no process is in any more.
pins=(/run/netns/cni-* /run/netns/bflr-*)
if ((${#pins[@]})); then
	live=$(stat -L -c %i /proc/[0-9]*/ns/net 2>/dev/null | sort -u)
	for f in "${pins[@]}"; do
		ino=$(stat -L -c %i "$f" 2>/dev/null) || continue
		grep -qx "$ino" <<<"$live" && continue
		umount "$f" 2>/dev/null
		rm -f "$f" 2>/dev/null
	done
fi

# The kubelets' log links (the kubelet's garbage collector asks the runtime
# about every container a link names).
for l in /var/log/containers/*; do
	[[ $(readlink "$l") == /tmp/crio-kube-* ]] && rm -f "$l"
done

find /sys/fs/cgroup -depth -type d -path '*/crio-kube-*' -exec rmdir {} + 2>/dev/null

for l in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | grep -E '^(ckube|bcrio|bctrd|bflr)'); do
	ip link del "$l"
done

rm -rf /var/lib/cni/networks/bench-* 2>/dev/null

((${#dirs[@]})) && rm -rf "${dirs[@]}" 2>/dev/null
left=$(find /sys/fs/cgroup -type d -path '*/crio-kube-*' 2>/dev/null | wc -l)
if ((left)); then
	echo "clean-test-host: $left test cgroups could not be removed" >&2
fi
exit 0
