#!/usr/bin/env bash
# hack/vm.sh: a Debian 12 VM with systemd as PID 1 and only the unified
# cgroup (v2) hierarchy, booted with qemu (software emulation, TCG: the test
# machine has no /dev/kvm), for testing the runtime on a real node's setup.
# docs/vm.md has the details.
#
#   hack/vm.sh image                 make (or reuse) the cached image
#   hack/vm.sh run [-e K[=V]]... CMD...   boot, run CMD as root, power off; exit with CMD's code
#   hack/vm.sh smoke                 run the smoke check (systemd, cgroup2fs, runc)
#   hack/vm.sh e2e [TEST FLAGS]...   build the e2e test binary on the host and run it in the VM
#   hack/vm.sh critest [CRITEST FLAGS]...   build critest and crio on the host, run hack/critest.sh in the VM
#   hack/vm.sh kube [TEST FLAGS]...  build the kubelet and test/kube on the host, run the systemd kubelet test in the VM
#   hack/vm.sh boot | exec CMD... | stop | console | status   a long-lived VM
#   hack/vm.sh clean                 remove the cache (images and runs)
#
# Everything is kept under $VM_CACHE (/var/cache/crio-vm), never in the tree.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VM_CACHE=${VM_CACHE:-/var/cache/crio-vm}
VM_SUITE=bookworm
VM_MEM=${VM_MEM:-6G}
VM_SMP=${VM_SMP:-2}
VM_DISK_SIZE=${VM_DISK_SIZE:-16G}
VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-420}   # seconds from qemu's start to the guest's runner being ready
VM_TIMEOUT=${VM_TIMEOUT:-7200}            # seconds one command may run
VM_INSTANCE=${VM_INSTANCE:-default}       # name of the long-lived VM of boot/exec/stop
VM_RUNC=${VM_RUNC:-/usr/local/bin/runc}   # copied into the image (Debian 12's runc is 1.1.5)
# Where e2e, critest and kube put their builds and reports: under the tree,
# which the guest sees. Two runs of one kind at once need two of these.
VM_OUT=$REPO/_output/${VM_OUT_NAME:-vm}
TR_CACHE=/var/cache/crio-testregistry     # the test registry's image cache, shared read-only
export PATH=/usr/local/go/bin:$HOME/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
TAGS="containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper apparmor"

# The guest's packages. Not runc (copied from the host: see VM_RUNC).
GUEST_PKGS=(systemd systemd-sysv dbus udev linux-image-amd64 initramfs-tools kmod
	iptables iproute2 conmon crun criu containernetworking-plugins busybox-static
	util-linux mount e2fsprogs ca-certificates procps libseccomp2 psmisc less
	apparmor sudo)
# Bump when the root file system recipe (rootfs_build) changes.
ROOTFS_RECIPE=4

say() { echo "vm: $*" >&2; }
VM_FAILED=
die() { echo "vm: error: $*" >&2; VM_FAILED=1; exit 1; }

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, mkfs, 9p passthrough)"

# source_tree DIR prints the tree to build from: the working tree, or with
# VM_E2E_REV a committed revision rather than the working tree (which others
# may be editing), exported to DIR under _output/vm, which the guest sees at
# the same path, as the test binaries' source paths need.
source_tree() {
	if [[ -z ${VM_E2E_REV:-} ]]; then
		echo "$REPO"
		return
	fi
	local rev dir=$1
	rev=$(git -C "$REPO" rev-parse --verify "$VM_E2E_REV^{commit}") || die "no revision $VM_E2E_REV"
	rm -rf "$dir"; mkdir -p "$dir"
	git -C "$REPO" archive "$rev" | tar -x -C "$dir"
	say "testing revision $(git -C "$REPO" log --oneline -1 "$rev")"
	echo "$dir"
}

# need_pkgs installs the Debian packages whose commands are missing.
need_pkgs() {
	local miss=() c p
	for c in "$@"; do
		p=${c#*:}; c=${c%%:*}
		command -v "$c" >/dev/null 2>&1 || miss+=("$p")
	done
	((${#miss[@]})) || return 0
	say "installing ${miss[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${miss[@]}" >/dev/null
}

# mirror prints the Debian archive this machine's apt uses for $VM_SUITE.
mirror() {
	if [[ -n ${VM_MIRROR:-} ]]; then echo "$VM_MIRROR"; return; fi
	local f m
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -e $f ]] || continue
		# deb822 stanzas: the URIs of the first one whose Suites has the plain suite.
		m=$(awk -v s="$VM_SUITE" '
			/^[ \t]*$/ { if (ok && uri != "") { print uri; exit } ok=0; uri=""; next }
			/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /debian\/?$/) uri=$i }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok=1 }
			END { if (ok && uri != "") print uri }' "$f" | head -1)
		[[ -n $m ]] && { echo "${m%/}"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -e $f ]] || continue
		m=$(awk -v s="$VM_SUITE" '$1 == "deb" { u=$2; if (u ~ /^\[/) { for (i = 2; i <= NF; i++) if ($i ~ /\]$/) { u=$(i+1); j=i+2; break } } else j=3; if ($j == s && u ~ /debian\/?$/) { print u; exit } }' "$f")
		[[ -n $m ]] && { echo "${m%/}"; return; }
	done
	echo http://deb.debian.org/debian
}

sha() { sha256sum | cut -c1-16; }

# ---- the guest's own files ------------------------------------------------

# guest_files DIR writes the files the image adds to the debootstrapped
# root: the job runner and its unit, the 9p mount of the control share,
# modules, and settings for a quick, quiet boot.
guest_files() {
	local d=$1
	mkdir -p "$d/usr/local/sbin" "$d/etc/systemd/system/multi-user.target.wants" \
		"$d/etc/modules-load.d" "$d/usr/local/bin" "$d/etc/systemd/journald.conf.d"
	cat >"$d/usr/local/sbin/crio-vm-runner" <<'EOF'
#!/bin/bash
# The guest side of hack/vm.sh: mounts the host's shares, then runs the jobs
# the host drops into the control share (/run/crio-vm/jobs/ID.sh), writing
# ID.out and then ID.rc there; powers off after one job (MODE=oneshot) or
# when /run/crio-vm/stop appears (MODE=server).
set -u
ctl=/run/crio-vm
if ! mountpoint -q $ctl; then
	echo "crio-vm-runner: the control share is not mounted at $ctl" >/dev/console
	exit 1
fi
. $ctl/config
tags=$(cat /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null | tr '\0' '\n')
opts=trans=virtio,version=9p2000.L,msize=524288
err=
if [[ -n ${SRC_PATH:-} ]]; then
	mkdir -p "$SRC_PATH" && mount -t 9p -o $opts,cache=mmap src "$SRC_PATH" || err="mounting the source share at $SRC_PATH failed"
fi
if grep -qx trcache <<<"$tags"; then
	mkdir -p /var/cache/crio-testregistry
	mount -t 9p -o $opts,ro trcache /var/cache/crio-testregistry || err="mounting the test registry cache failed"
fi
systemctl is-system-running --wait >$ctl/system-state 2>&1
systemctl --failed --no-legend --plain >$ctl/failed-units 2>&1
[[ -z $err ]] || echo "$err" >$ctl/error
echo "$(cut -d' ' -f1 /proc/uptime)" >$ctl/ready
while :; do
	ran=
	for j in $ctl/jobs/*.sh; do
		[[ -e $j ]] || continue
		id=${j%.sh}
		[[ -e $id.started ]] && continue
		: >"$id.started"
		env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
			LANG=C.UTF-8 TERM=dumb USER=root bash "$j" >"$id.out" 2>&1 </dev/null
		echo $? >"$id.rc.tmp" && mv "$id.rc.tmp" "$id.rc"
		ran=1
	done
	if [[ $MODE == oneshot && -n $ran ]] || [[ -e $ctl/stop ]]; then
		break
	fi
	sleep 0.2
done
sync
systemctl --no-block poweroff
EOF
	chmod 0755 "$d/usr/local/sbin/crio-vm-runner"
	cat >"$d/etc/systemd/system/crio-vm-runner.service" <<'EOF'
[Unit]
Description=hack/vm.sh job runner
After=multi-user.target run-crio\x2dvm.mount
Requires=run-crio\x2dvm.mount

[Service]
Type=exec
ExecStart=/usr/local/sbin/crio-vm-runner
# As contrib/systemd/crio.service: the daemons the jobs start behave as under it.
Delegate=yes
KillMode=mixed
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOF
	ln -sf ../crio-vm-runner.service "$d/etc/systemd/system/multi-user.target.wants/crio-vm-runner.service"
	cat >"$d/etc/systemd/system/run-crio\\x2dvm.mount" <<'EOF'
[Unit]
Description=hack/vm.sh control share
After=systemd-modules-load.service
Wants=systemd-modules-load.service

[Mount]
What=ctl
Where=/run/crio-vm
Type=9p
Options=trans=virtio,version=9p2000.L,msize=524288
EOF
	printf '%s\n' 9p 9pnet_virtio virtio_console overlay br_netfilter >"$d/etc/modules-load.d/crio-vm.conf"
	printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' >"$d/etc/systemd/journald.conf.d/crio-vm.conf"
	install -m 0755 "$VM_RUNC" "$d/usr/local/bin/runc"
}

# ---- the image ------------------------------------------------------------

# rootfs_build DIR debootstraps the guest's root into DIR.
rootfs_build() {
	local dir=$1 m
	m=$(mirror)
	say "debootstrap $VM_SUITE from $m into $dir (log: $VM_CACHE/debootstrap.log)"
	if ! nice debootstrap --variant=minbase --components=main \
		--include="$(IFS=,; echo "${GUEST_PKGS[*]}")" \
		"$VM_SUITE" "$dir" "$m" >"$VM_CACHE/debootstrap.log" 2>&1; then
		tail -30 "$VM_CACHE/debootstrap.log" >&2
		die "debootstrap failed"
	fi
	echo crio-vm >"$dir/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tcrio-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
	printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t1\n' >"$dir/etc/fstab"
	# A fixed machine ID: a blank one makes every boot a first boot.
	head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/etc/machine-id"; echo >>"$dir/etc/machine-id"
	printf 'deb %s %s main\n' "$m" "$VM_SUITE" >"$dir/etc/apt/sources.list"
	chroot "$dir" passwd -d root >/dev/null
	# Nothing periodic in a VM that lives minutes.
	local u
	for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
		systemd-timesyncd.service getty@tty1.service; do
		ln -sf /dev/null "$dir/etc/systemd/system/$u"
	done
	# The initrd must find the root on virtio-blk.
	printf '%s\n' virtio_pci virtio_blk virtio_scsi ext4 >>"$dir/etc/initramfs-tools/modules"
	sed -i 's/^MODULES=.*/MODULES=most/' "$dir/etc/initramfs-tools/initramfs.conf"
	chroot "$dir" update-initramfs -u -k all >>"$VM_CACHE/debootstrap.log" 2>&1 || die "update-initramfs failed"
	rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"*
}

# image_paths sets ROOTFS (the debootstrapped root) and IMG (the directory
# of disk.raw, vmlinuz, initrd.img) from the keys of their inputs.
image_paths() {
	local k1 k2
	[[ -x $VM_RUNC ]] || die "$VM_RUNC is missing: run hack/install-runc.sh (or set VM_RUNC)"
	k1=$(printf '%s\n' "$ROOTFS_RECIPE" "$VM_SUITE" "$(mirror)" "${GUEST_PKGS[@]}" | sha)
	ROOTFS=$VM_CACHE/rootfs-$k1
	local tmp
	tmp=$(mktemp -d)
	guest_files "$tmp"
	k2=$( (echo "$k1 $VM_DISK_SIZE"; cd "$tmp" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha)
	rm -rf "$tmp"
	IMG=$VM_CACHE/img-$k2
}

cmd_image() {
	need_pkgs debootstrap mkfs.ext4:e2fsprogs
	mkdir -p "$VM_CACHE"
	image_paths
	if [[ -e $IMG/complete ]]; then
		say "image $IMG is up to date"
		return
	fi
	exec 9>"$VM_CACHE/image.lock"
	flock 9
	[[ -e $IMG/complete ]] && return
	local t0=$SECONDS
	if [[ ! -e $ROOTFS/.complete ]]; then
		rm -rf "$ROOTFS" "$ROOTFS.tmp"
		rootfs_build "$ROOTFS.tmp"
		touch "$ROOTFS.tmp/.complete"
		mv "$ROOTFS.tmp" "$ROOTFS"
		say "root file system built in $((SECONDS - t0))s"
	fi
	guest_files "$ROOTFS"
	rm -rf "$IMG.tmp"
	mkdir -p "$IMG.tmp"
	local k
	k=$(ls "$ROOTFS"/boot/vmlinuz-* | sort -V | tail -1)
	cp "$k" "$IMG.tmp/vmlinuz"
	cp "$ROOTFS/boot/initrd.img-${k#*/boot/vmlinuz-}" "$IMG.tmp/initrd.img"
	# The guest's own lsinitramfs: the host may lack initramfs-tools.
	chroot "$ROOTFS" lsinitramfs "/boot/initrd.img-${k#*/boot/vmlinuz-}" >"$IMG.tmp/initrd.list"
	grep -q '/virtio_blk\.ko' "$IMG.tmp/initrd.list" || die "the initrd has no virtio_blk module"
	say "making the $VM_DISK_SIZE ext4 disk (mkfs.ext4 -d)"
	nice mkfs.ext4 -q -F -L crio-vm -E lazy_itable_init=0,lazy_journal_init=0 \
		-d "$ROOTFS" "$IMG.tmp/disk.raw" "$VM_DISK_SIZE"
	printf 'kernel %s\nrunc %s\n' "${k#*/boot/vmlinuz-}" "$("$VM_RUNC" --version | head -1)" >"$IMG.tmp/inputs"
	touch "$IMG.tmp/complete"
	mv "$IMG.tmp" "$IMG"
	# Earlier images: only those no VM runs on.
	local old
	for old in "$VM_CACHE"/img-*; do
		[[ $old == "$IMG" ]] && continue
		grep -qsx "$old" "$VM_CACHE"/runs/*/image 2>/dev/null || rm -rf "$old"
	done
	for old in "$VM_CACHE"/rootfs-*; do
		[[ $old == "$ROOTFS" ]] || rm -rf "$old"
	done
	say "image $IMG ready in $((SECONDS - t0))s"
}

# ---- booting --------------------------------------------------------------

QPID=
RUN=
KEEP_VM=

cleanup() {
	local rc=$?
	if [[ -n $QPID && -z $KEEP_VM ]] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null || true
		local i
		for i in $(seq 50); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$QPID" 2>/dev/null || true
	fi
	if [[ -n $RUN && -z $KEEP_VM ]]; then
		if [[ -n $VM_FAILED || -n ${VM_KEEP_RUN:-} ]]; then
			say "kept $RUN (console.log, qemu.log, ctl/)"
		else
			rm -rf "$RUN"
		fi
	fi
	exit $rc
}

# start_vm RUNDIR MODE boots a VM whose control share is RUNDIR/ctl and
# waits until its runner is ready; QPID is qemu's pid.
start_vm() {
	RUN=$1
	local mode=$2
	need_pkgs qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils
	mkdir -p "$RUN/ctl/jobs"
	echo "$IMG" >"$RUN/image"
	printf 'MODE=%s\nSRC_PATH=%q\n' "$mode" "$REPO" >"$RUN/ctl/config"
	qemu-img create -q -f qcow2 -F raw -b "$IMG/disk.raw" "$RUN/overlay.qcow2"
	mkdir -p "$TR_CACHE"
	local append="root=/dev/vda rootfstype=ext4 rw console=ttyS0,115200 panic=-1 \
systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all systemd.show_status=1 mitigations=off \
${VM_APPEND:-}"
	local t0=$SECONDS
	qemu-system-x86_64 -name "crio-vm,process=crio-vm-$(basename "$RUN")" \
		-machine q35 -accel tcg,thread=multi -cpu max -smp "$VM_SMP" -m "$VM_MEM" \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$RUN/console.log" \
		-kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "$append" \
		-drive "file=$RUN/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe" \
		-device virtio-rng-pci -nic none \
		-virtfs "local,path=$RUN/ctl,mount_tag=ctl,security_model=passthrough,id=ctl" \
		-virtfs "local,path=$REPO,mount_tag=src,security_model=passthrough,multidevs=remap,id=src" \
		-virtfs "local,path=$TR_CACHE,mount_tag=trcache,security_model=passthrough,readonly=on,multidevs=remap,id=trcache" \
		</dev/null >"$RUN/qemu.log" 2>&1 &
	QPID=$!
	echo "$QPID" >"$RUN/qemu.pid"
	say "booting (qemu pid $QPID, TCG, $VM_SMP CPUs, $VM_MEM; console: $RUN/console.log)"
	while [[ ! -e $RUN/ctl/ready ]]; do
		if ! kill -0 "$QPID" 2>/dev/null; then
			tail -40 "$RUN/console.log" >&2 || true
			cat "$RUN/qemu.log" >&2 || true
			QPID=
			die "qemu exited before the guest was ready"
		fi
		if ((SECONDS - t0 > VM_BOOT_TIMEOUT)); then
			tail -40 "$RUN/console.log" >&2 || true
			die "boot timeout: the guest's runner was not ready after ${VM_BOOT_TIMEOUT}s (VM_BOOT_TIMEOUT)"
		fi
		sleep 0.5
	done
	BOOT_SECONDS=$((SECONDS - t0))
	say "booted in ${BOOT_SECONDS}s (guest uptime $(cat "$RUN/ctl/ready")s), system state: $(head -1 "$RUN/ctl/system-state")"
	if [[ -s $RUN/ctl/failed-units ]]; then
		say "failed units: $(awk '{print $1}' "$RUN/ctl/failed-units" | tr '\n' ' ')"
	fi
	if [[ -e $RUN/ctl/error ]]; then
		die "guest: $(cat "$RUN/ctl/error")"
	fi
}

# job_write CTL ENV... -- CMD... writes a job and prints its path prefix.
job_write() {
	local ctl=$1; shift
	local envs=() id
	while [[ $1 != -- ]]; do envs+=("$1"); shift; done
	shift
	id=$ctl/jobs/$(date +%s%N)-$$
	{
		local cwd=/
		[[ $PWD == "$REPO" || $PWD == "$REPO"/* ]] && cwd=$PWD
		printf 'cd %q || exit 1\n' "$cwd"
		local e
		for e in "${envs[@]}"; do printf 'export %q\n' "$e"; done
		printf 'exec'; printf ' %q' "$@"; printf '\n'
	} >"$id.sh.tmp"
	mv "$id.sh.tmp" "$id.sh"
	echo "$id"
}

# job_stream ID copies ID.out to stdout as it grows until ID.rc appears,
# and returns the job's exit code.
job_stream() {
	local id=$1 off=0 size t0=$SECONDS rc
	while :; do
		local done=
		[[ -e $id.rc ]] && done=1
		if [[ -e $id.out ]]; then
			size=$(stat -c %s "$id.out")
			if ((size > off)); then
				tail -c +$((off + 1)) "$id.out" | head -c $((size - off))
				off=$size
			fi
		fi
		[[ -n $done ]] && break
		if [[ -n $QPID ]] && ! kill -0 "$QPID" 2>/dev/null; then
			tail -30 "$RUN/console.log" >&2 || true
			QPID=
			die "the VM stopped before the command finished"
		fi
		if ((SECONDS - t0 > VM_TIMEOUT)); then
			say "timeout: the command ran more than ${VM_TIMEOUT}s (VM_TIMEOUT)"
			return 124
		fi
		sleep 0.2
	done
	rc=$(cat "$id.rc")
	[[ $rc =~ ^[0-9]+$ ]] || die "bad exit code file $id.rc: $rc"
	return "$rc"
}

# parse_env collects -e K[=V] options into ENVS; ARGS keeps the rest.
parse_env() {
	ENVS=()
	while (($#)); do
		case $1 in
		-e) [[ $# -ge 2 ]] || die "-e needs K=V"
			if [[ $2 == *=* ]]; then ENVS+=("$2"); else ENVS+=("$2=${!2-}"); fi
			shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	ARGS=("$@")
}

cmd_run() {
	parse_env "$@"
	((${#ARGS[@]})) || die "usage: hack/vm.sh run [-e K[=V]]... CMD..."
	cmd_image
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir -p "$VM_CACHE/runs"
	# Runs kept after a failure, once a day old.
	find "$VM_CACHE/runs" -mindepth 1 -maxdepth 1 -name 'run-*' -mtime +0 -exec rm -rf {} + 2>/dev/null || true
	local run
	run=$(mktemp -d "$VM_CACHE/runs/run-XXXXXX")
	mkdir -p "$run/ctl/jobs"
	# The job is there before the boot: the runner runs it as soon as it is ready.
	local id
	id=$(job_write "$run/ctl" "${ENVS[@]}" -- "${ARGS[@]}")
	start_vm "$run" oneshot
	local t0=$SECONDS rc=0
	job_stream "$id" || rc=$?
	say "command exited $rc after $((SECONDS - t0))s"
	local i
	for i in $(seq 120); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.5; done
	kill -0 "$QPID" 2>/dev/null && say "the guest did not power off in 60s; killing qemu"
	return "$rc"
}

# ---- the long-lived VM ----------------------------------------------------

inst_dir() { echo "$VM_CACHE/runs/instance-$VM_INSTANCE"; }

inst_alive() {
	local d
	d=$(inst_dir)
	[[ -e $d/qemu.pid ]] && kill -0 "$(cat "$d/qemu.pid")" 2>/dev/null &&
		grep -q crio-vm "/proc/$(cat "$d/qemu.pid")/cmdline" 2>/dev/null
}

cmd_boot() {
	inst_alive && die "VM $VM_INSTANCE already runs (hack/vm.sh stop)"
	cmd_image
	local d
	d=$(inst_dir)
	rm -rf "$d"
	trap cleanup EXIT
	start_vm "$d" server
	KEEP_VM=1
	say "VM $VM_INSTANCE is up: hack/vm.sh exec CMD..., hack/vm.sh stop"
}

cmd_exec() {
	parse_env "$@"
	((${#ARGS[@]})) || die "usage: hack/vm.sh exec [-e K[=V]]... CMD..."
	inst_alive || die "no VM $VM_INSTANCE runs (hack/vm.sh boot)"
	local d id
	d=$(inst_dir)
	RUN=$d; QPID=$(cat "$d/qemu.pid"); KEEP_VM=1
	id=$(job_write "$d/ctl" "${ENVS[@]}" -- "${ARGS[@]}")
	local rc=0
	job_stream "$id" || rc=$?
	rm -f "$id".*
	return "$rc"
}

cmd_stop() {
	local d pid i
	d=$(inst_dir)
	inst_alive || { say "no VM $VM_INSTANCE runs"; rm -rf "$d"; return 0; }
	pid=$(cat "$d/qemu.pid")
	: >"$d/ctl/stop"
	for i in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
	if kill -0 "$pid" 2>/dev/null; then
		say "no power-off in 60s: killing qemu $pid"
		kill "$pid"; sleep 2; kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$d"
	say "VM $VM_INSTANCE stopped"
}

# ---- checks and tests -----------------------------------------------------

cmd_smoke() {
	cmd_run sh -c 'echo "pid 1: $(cat /proc/1/comm)"; echo "cgroup fs: $(stat -fc %T /sys/fs/cgroup)";
		echo "system: $(systemctl is-system-running)"; systemctl --failed --no-legend --plain;
		echo "kernel: $(uname -r)"; runc --version | head -1; conmon --version | head -1;
		[ "$(cat /proc/1/comm)" = systemd ] && [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] &&
		runc --version | grep -q "runc version 1.5"'
}

# warm_testregistry BIN starts the test registry once on the host, which
# builds its image cache when the cache lacks the current generation, and
# stops it when it serves.
warm_testregistry() {
	local log pid i
	log=$(mktemp)
	"$1" >"$log" 2>&1 &
	pid=$!
	for i in $(seq 600); do
		grep -q '^listening on' "$log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	grep -q '^listening on' "$log" || { cat "$log" >&2; rm -f "$log"; die "the test registry's cache could not be built"; }
	rm -f "$log"
}

# cmd_e2e [FLAGS]... builds bin/crio, crictl and the e2e test binary on the
# host and runs the test binary (with FLAGS, e.g. -test.run REGEXP) in the
# VM. CRIO_CGROUP_MANAGER (cgroupfs by default; systemd; or "auto" for the
# daemon's own choice, which is systemd under systemd) picks the driver.
cmd_e2e() {
	local out=$VM_OUT mgr=${CRIO_CGROUP_MANAGER:-cgroupfs} src=$REPO
	case $mgr in cgroupfs|systemd|auto) ;; *) die "CRIO_CGROUP_MANAGER must be cgroupfs, systemd or auto, not $mgr" ;; esac
	mkdir -p "$out"
	src=$(source_tree "$out/src")
	say "building bin/crio, bin/crio-pause, crictl, the test registry and the e2e test binary"
	(cd "$src" && nice go build -trimpath -tags "$TAGS" -o bin/crio ./cmd/crio &&
		nice go build -trimpath -ldflags "-s -w" -o bin/crio-pause ./cmd/crio-pause)
	(cd "$src/hack/tools" && nice go build -o "$out/crictl" sigs.k8s.io/cri-tools/cmd/crictl)
	(cd "$src" && nice go test -c -tags "$TAGS" -o "$out/e2e.test" ./test/e2e/)
	# The test registry's cache is built on the host (it needs gcc and apt)
	# and shared read-only: warm it here.
	(cd "$src" && nice go build -o "$out/testregistry" ./hack/testregistry/cmd/testregistry)
	warm_testregistry "$out/testregistry"
	local flags=("$@")
	((${#flags[@]})) || flags=(-test.v -test.timeout 60m)
	# The driver: the framework writes $CRIO_CGROUP_MANAGER into each test
	# daemon's cgroup_manager (a test's own drop-in still wins); for a
	# revision whose framework does not, CRIO_BINARY is a wrapper that adds
	# --cgroup-manager (which wins over every file).
	local wrap=
	if [[ $mgr != auto ]] && ! grep -q CRIO_CGROUP_MANAGER "$src/test/framework/daemon.go"; then
		wrap=1
		say "this revision's test framework ignores CRIO_CGROUP_MANAGER: wrapping crio with --cgroup-manager=$mgr"
	fi
	local script
	script="set -e
bin=$src/bin/crio
if [ -n '$wrap' ]; then
	mkdir -p /usr/local/libexec/crio-vm
	printf '#!/bin/sh\nexec %s --cgroup-manager=%s \"\$@\"\n' \"\$bin\" '$mgr' >/usr/local/libexec/crio-vm/crio
	chmod +x /usr/local/libexec/crio-vm/crio
	bin=/usr/local/libexec/crio-vm/crio
fi
if [ '$mgr' != auto ]; then export CRIO_CGROUP_MANAGER='$mgr'; else unset CRIO_CGROUP_MANAGER; fi
export CRIO_BINARY=\$bin CRICTL_BINARY=$out/crictl
echo \"e2e in the VM: driver $mgr, \$(runc --version | head -1), conmon \$(conmon --version | head -1)\"
cd $src/test/e2e
start=\$(date +%s%N)
rc=0
$out/e2e.test \"\$@\" || rc=\$?
ms=\$(( (\$(date +%s%N) - start) / 1000000 ))
echo \"e2e.test exited \$rc after \$((ms / 1000)).\$(printf %03d \$((ms % 1000)))s\"
exit \$rc"
	cmd_run bash -c "$script" e2e "${flags[@]}"
}

# cmd_critest [FLAGS]... builds crio, crio-pause, the test registry, critest,
# crictl and ginkgo (for critest's -parallel) on the host, then runs
# hack/critest.sh (which builds nothing when CRITEST_BIN_DIR is set) in the
# VM with FLAGS (default: -parallel 2) and CRIO_CGROUP_MANAGER (systemd by
# default, or cgroupfs) in a drop-in. Reports land in
# _output/vm/critest-DRIVER: critest.log, junit.xml, crio.log, and units.log,
# systemd's crio-* units sampled every 15 s during the suite and listed once
# after it (before the cleanup), where none should be left.
cmd_critest() {
	local out=$VM_OUT mgr=${CRIO_CGROUP_MANAGER:-systemd} src=$REPO
	case $mgr in cgroupfs|systemd) ;; *) die "CRIO_CGROUP_MANAGER must be cgroupfs or systemd, not $mgr" ;; esac
	mkdir -p "$out"
	src=$(source_tree "$out/src-critest")
	local bin=$out/critest-bin-$mgr rep=$out/critest-$mgr
	mkdir -p "$bin"
	say "building crio, crio-pause, the test registry, critest, crictl and ginkgo into $bin"
	(cd "$src" && nice go build -trimpath -tags "$TAGS" -o "$bin/crio" ./cmd/crio &&
		nice go build -trimpath -ldflags "-s -w" -o "$bin/crio-pause" ./cmd/crio-pause &&
		nice go build -tags "$TAGS" -o "$bin/testregistry" ./hack/testregistry/cmd/testregistry)
	(cd "$src/hack/tools" && nice go test -c -o "$bin/critest" sigs.k8s.io/cri-tools/cmd/critest &&
		nice go build -o "$bin/crictl" sigs.k8s.io/cri-tools/cmd/crictl &&
		nice go build -o "$bin/ginkgo" github.com/onsi/ginkgo/v2/ginkgo)
	warm_testregistry "$bin/testregistry"
	local flags=("$@")
	((${#flags[@]})) || flags=(-parallel 2)
	rm -rf "$rep"; mkdir -p "$rep"
	# The guest's side, in the report directory (the guest sees it at the same path).
	cat >"$rep/run.sh" <<EOF
set -e
printf '[crio.runtime]\\ncgroup_manager = "%s"\\n' '$mgr' >/run/critest-driver.conf
export CRITEST_BIN_DIR=$bin CRITEST_REPORT_DIR=$rep CRITEST_CRIO_DROPIN=/run/critest-driver.conf
export CRITEST_POST="echo 'crio-* units after the suite, before the cleanup:'; systemctl list-units --all --no-legend --plain 'crio-*' | tee -a $rep/units.log"
units() { systemctl list-units --no-legend --plain 'crio-*' "\$@"; }
echo "critest in the VM: driver $mgr, \$(runc --version | head -1), conmon \$(conmon --version | head -1)"
(while sleep 15; do
	echo "\$(date +%T) \$(units --state=running | grep -c '\.scope ') running crio-*.scope: \$(units --state=running | awk '/\.scope / {print \$1}' | head -4 | tr '\n' ' ')"
done) >>$rep/units.log 2>&1 &
mon=\$!
start=\$(date +%s)
rc=0
$src/hack/critest.sh "\$@" || rc=\$?
kill \$mon 2>/dev/null || true
echo "critest exited \$rc after \$((\$(date +%s) - start))s; crio-* units after the cleanup: \$(units --all | wc -l)"
units --all | tee -a $rep/units.log
exit \$rc
EOF
	cmd_run bash "$rep/run.sh" "${flags[@]}"
}

# cmd_kube [FLAGS]... builds bin/crio, bin/crio-pause, crictl, the pinned
# Kubernetes programs (test/kube/build.go's way, into _output/kube) and the
# test/kube test binary on the host, and runs that binary in the VM (default:
# the systemd driver's kubelet test, TestKubeletSystemdDriver).
cmd_kube() {
	local out=$VM_OUT src=$REPO
	mkdir -p "$out"
	src=$(source_tree "$out/src-kube")
	local kv kbin=$REPO/_output/kube
	kv=$(sed -n 's/^[[:space:]]*Version *= *"\(v[0-9.]*\)"/\1/p' "$src/test/kube/build.go")
	[[ -n $kv ]] || die "no Kubernetes version in test/kube/build.go"
	say "building bin/crio, crictl, the Kubernetes $kv programs ($kbin) and the kube test binary"
	(cd "$src" && nice go build -trimpath -tags "$TAGS" -o bin/crio ./cmd/crio &&
		nice go build -trimpath -ldflags "-s -w" -o bin/crio-pause ./cmd/crio-pause)
	(cd "$src/hack/tools" && nice go build -o "$out/crictl" sigs.k8s.io/cri-tools/cmd/crictl)
	mkdir -p "$kbin"
	(cd "$src/hack/kube" && nice go build -trimpath -ldflags "-X k8s.io/component-base/version.gitVersion=$kv -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$kv") -X k8s.io/component-base/version.gitTreeState=clean" \
		-o "$kbin/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kube-apiserver \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-controller-manager &&
		nice go build -trimpath -o "$kbin/etcd" go.etcd.io/etcd/server/v3)
	(cd "$src" && nice go test -c -tags "$TAGS" -o "$out/kube.test" ./test/kube/)
	(cd "$src" && nice go build -o "$out/testregistry" ./hack/testregistry/cmd/testregistry)
	warm_testregistry "$out/testregistry"
	local flags=("$@")
	((${#flags[@]})) || flags=(-test.v -test.timeout 30m -test.run '^TestKubeletSystemdDriver$')
	cmd_run -e CRIO_BINARY="$src/bin/crio" -e CRICTL_BINARY="$out/crictl" -e KUBE_BIN_DIR="$kbin" \
		bash -c "cd $src/test/kube && start=\$(date +%s) && rc=0 && { $out/kube.test \"\$@\" || rc=\$?; } &&
			echo \"kube.test exited \$rc after \$((\$(date +%s) - start))s; crio-* units left: \$(systemctl list-units --all --no-legend --plain 'crio-*' | wc -l)\" &&
			systemctl list-units --all --no-legend --plain 'crio-*' 'kubepods*' && exit \$rc" kube "${flags[@]}"
}

cmd_clean() {
	local d
	for d in "$VM_CACHE"/runs/*; do
		[[ -e $d/qemu.pid ]] && kill -0 "$(cat "$d/qemu.pid")" 2>/dev/null && die "a VM still runs from $d"
	done
	rm -rf "$VM_CACHE"
	say "removed $VM_CACHE"
}

# All in one function and one line: an edit of this file while it runs
# cannot change what the running copy does next.
main() {
	case ${1:-} in
	image) shift; cmd_image "$@" ;;
	run) shift; cmd_run "$@" ;;
	smoke) shift; cmd_smoke ;;
	e2e) shift; cmd_e2e "$@" ;;
	critest) shift; cmd_critest "$@" ;;
	kube) shift; cmd_kube "$@" ;;
	boot) shift; cmd_boot ;;
	exec) shift; cmd_exec "$@" ;;
	stop) shift; cmd_stop ;;
	console) tail -n "${2:-50}" "$(inst_dir)/console.log" ;;
	status) if inst_alive; then echo "VM $VM_INSTANCE runs (qemu pid $(cat "$(inst_dir)/qemu.pid"))"; else echo "no VM $VM_INSTANCE"; exit 1; fi ;;
	clean) cmd_clean ;;
	*) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
}

main "$@"; exit $?
