// Command bench measures crio against Debian's containerd (its built-in
// CRI plugin) in the same run, with the same CRI client, CNI network,
// runc and test registry, and against the floor: the same pod work done
// by hand with no daemon. Absolute times on shared machines drift from run
// to run; the ratios in one run are the figures that count.
//
//	hack/bench.sh [-n 50] [-par 10] [-out _output/bench]   (make bench)
//
// It prints a table and writes it as Markdown and JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/hack/testregistry"
)

type options struct {
	repo, crio, containerd, runc, out, critest string
	n, par, pods, listN, execN                 int
	pullN, pullBigN                            int
	profile, skipList, skipFloor, keep         bool
}

// row is one figure of the report. Times are milliseconds, memory MiB.
type row struct {
	Section    string   `json:"section"`
	Metric     string   `json:"metric"`
	Unit       string   `json:"unit"`
	Crio       float64  `json:"crio"`
	Containerd float64  `json:"containerd"`
	Ratio      float64  `json:"ratio"`
	Floor      *float64 `json:"floor,omitempty"`
	Note       string   `json:"note,omitempty"`
	// CrioOnly rows have no containerd figure (crio's own log).
	CrioOnly bool `json:"crioOnly,omitempty"`
}

type report struct {
	Date    string         `json:"date"`
	Options map[string]any `json:"options"`
	Rows    []row          `json:"rows"`
	Spawns  map[string]any `json:"spawnsPerPod"`
}

func main() {
	o := &options{}
	flag.StringVar(&o.repo, "repo", ".", "source tree (for the signature policy)")
	flag.StringVar(&o.crio, "crio", "bin/crio", "crio binary")
	flag.StringVar(&o.containerd, "containerd", "/usr/bin/containerd", "containerd binary (Debian's package)")
	flag.StringVar(&o.runc, "runc", "/usr/local/bin/runc", "runc both runtimes and the floor use")
	flag.StringVar(&o.out, "out", "_output/bench", "report directory")
	flag.StringVar(&o.critest, "critest", "", "critest binary: also run critest -benchmark against both")
	flag.IntVar(&o.n, "n", 50, "pods per lifecycle run")
	flag.IntVar(&o.par, "par", 10, "pods in flight in the parallel run")
	flag.IntVar(&o.pods, "pods", 50, "running pods for the footprint and list figures")
	flag.IntVar(&o.listN, "list-n", 50, "calls per list RPC")
	flag.IntVar(&o.execN, "exec-n", 30, "ExecSync calls")
	flag.IntVar(&o.pullN, "pull-n", 10, "cold pulls of the one-layer busybox image per daemon (0 skips)")
	flag.IntVar(&o.pullBigN, "pull-big-n", 5, "cold pulls of crio-test/big (10 layers, 200 MB) per daemon (0 skips)")
	flag.BoolVar(&o.profile, "profile", false, "serve crio's /debug/pprof and save CPU and heap profiles in -out")
	flag.BoolVar(&o.skipList, "skip-list", false, "skip the 500-container list figures")
	flag.BoolVar(&o.skipFloor, "skip-floor", false, "skip the no-daemon floor")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.Parse()
	log.SetFlags(log.Ltime)
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o *options) (retErr error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, p := range []*string{&o.crio, &o.out, &o.repo} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "crio-bench-")
	if err != nil {
		return err
	}
	log.Printf("work directory %s", work)

	reg, err := testregistry.Start(ctx, registryOptions(o))
	if err != nil {
		return err
	}
	defer reg.Close()
	regConf := filepath.Join(work, "registries.conf")
	if err := testregistry.WriteRegistriesConf(regConf, reg.Addr); err != nil {
		return err
	}

	var daemons []*daemon
	defer func() {
		for _, d := range daemons {
			cleanupDaemon(d)
		}
		cleanupWork(work, o.keep)
	}()
	c, err := startCrio(ctx, o, filepath.Join(work, "crio"), regConf)
	if c != nil {
		daemons = append(daemons, c)
	}
	if err != nil {
		return err
	}
	k, err := startContainerd(ctx, o, filepath.Join(work, "containerd"), reg.Addr)
	if k != nil {
		daemons = append(daemons, k)
	}
	if err != nil {
		return err
	}
	both := []*daemon{c, k}
	for _, d := range both {
		if err := pull(ctx, d); err != nil {
			return err
		}
	}
	rep := &report{Date: time.Now().UTC().Format(time.RFC3339), Spawns: map[string]any{},
		Options: map[string]any{"n": o.n, "par": o.par, "pods": o.pods, "pullN": o.pullN, "pullBigN": o.pullBigN, "runc": o.runc, "crio": o.crio, "containerd": o.containerd}}
	if v, err := c.rt.Version(ctx, &runtimeapi.VersionRequest{}); err == nil {
		rep.Options["crioVersion"] = v.RuntimeVersion
	}
	if v, err := k.rt.Version(ctx, &runtimeapi.VersionRequest{}); err == nil {
		rep.Options["containerdVersion"] = v.RuntimeVersion
	}
	add := func(section, metric, unit string, cv, kv float64, floor *float64, note string) {
		r := row{Section: section, Metric: metric, Unit: unit, Crio: cv, Containerd: kv, Floor: floor, Note: note}
		if kv != 0 {
			r.Ratio = cv / kv
		}
		rep.Rows = append(rep.Rows, r)
	}

	log.Printf("warm-up")
	for _, d := range both {
		if _, err := lifecycles(ctx, d, "warm", 2, 1); err != nil {
			return err
		}
	}
	time.Sleep(3 * time.Second)
	idle := map[string]mem{}
	for _, d := range both {
		idle[d.name], _ = memOf(d.pid())
	}
	add("footprint", "daemon RSS idle", "MiB", idle["crio"].rss/1024, idle["containerd"].rss/1024, nil, "after pulls and 2 warm-up pods")
	add("footprint", "daemon PSS idle", "MiB", idle["crio"].pss/1024, idle["containerd"].pss/1024, nil, "")
	if o.profile {
		if err := fetchPprof(ctx, c.pprofSock, "/debug/pprof/heap?gc=1", filepath.Join(o.out, "crio-heap-idle.pprof")); err != nil {
			log.Printf("heap profile: %v", err)
		}
	}

	log.Printf("spawns per pod (strace -f on each daemon, one pod)")
	for _, d := range both {
		counts, total, err := traceSpawns(d.dir, d.pid(), func() error {
			_, err := lifecycles(ctx, d, "trace", 1, 1)
			return err
		})
		if err != nil {
			log.Printf("%s: spawn count: %v", d.name, err)
			continue
		}
		rep.Spawns[d.name] = map[string]any{"total": total, "byProgram": counts}
		log.Printf("%s: %d execs per pod: %v", d.name, total, counts)
	}
	if ct, ok := rep.Spawns["crio"].(map[string]any); ok {
		if kt, ok := rep.Spawns["containerd"].(map[string]any); ok {
			add("spawns", "processes exec'd per pod lifecycle", "count", float64(ct["total"].(int)), float64(kt["total"].(int)), nil, "strace -f -e execve, one pod with one container")
		}
	}

	var fl *floor
	floorS := newSamples()
	if !o.skipFloor {
		log.Printf("floor: %d pods by hand", o.n)
		fl, err = newFloor(ctx, o, filepath.Join(work, "floor"), reg.Addr)
		if err != nil {
			return err
		}
		defer fl.cleanup()
		for i := 0; i < o.n; i++ {
			if err := fl.run(ctx, i, floorS); err != nil {
				return err
			}
		}
	}
	fp50 := func(ops ...string) *float64 {
		if fl == nil {
			return nil
		}
		var t float64
		for _, op := range ops {
			t += ms(percentile(floorS.m[op], 0.5))
		}
		return &t
	}

	for _, par := range []int{1, o.par} {
		section := "lifecycle, sequential"
		if par > 1 {
			section = fmt.Sprintf("lifecycle, %d in parallel", par)
		}
		log.Printf("%s: %d pods", section, o.n)
		res := map[string]*samples{}
		for _, d := range both {
			var prof chan error
			if o.profile && d == c && par == 1 {
				prof = make(chan error, 1)
				go func() {
					prof <- fetchPprof(ctx, c.pprofSock, "/debug/pprof/profile?seconds=20", filepath.Join(o.out, "crio-cpu-lifecycle.pprof"))
				}()
			}
			s, err := lifecycles(ctx, d, fmt.Sprintf("lc%d", par), o.n, par)
			if err != nil {
				return err
			}
			if prof != nil {
				if err := <-prof; err != nil {
					log.Printf("cpu profile: %v", err)
				}
			}
			res[d.name] = s
		}
		var sumC, sumK float64
		for _, op := range lifecycleOps {
			cs, ks := res["crio"].m[op], res["containerd"].m[op]
			var floorV *float64
			if par == 1 {
				switch op {
				case "RunPodSandbox":
					floorV = fp50("netns add", "CNI ADD")
				case "StartContainer":
					floorV = fp50("runc start")
				case "CreateContainer":
					floorV = fp50("mount+runc create")
				case "StopContainer":
					floorV = fp50("kill+wait")
				case "RemoveContainer":
					floorV = fp50("runc delete+umount")
				case "StopPodSandbox":
					floorV = fp50("CNI DEL")
				case "RemovePodSandbox":
					floorV = fp50("netns delete")
				}
			}
			add(section, op+" p50", "ms", ms(percentile(cs, 0.5)), ms(percentile(ks, 0.5)), floorV, "")
			add(section, op+" p90", "ms", ms(percentile(cs, 0.9)), ms(percentile(ks, 0.9)), nil, "")
			sumC += ms(percentile(cs, 0.5))
			sumK += ms(percentile(ks, 0.5))
		}
		var cs2, ks2 float64
		for _, op := range []string{"CreateContainer", "StartContainer"} {
			cs2 += ms(percentile(res["crio"].m[op], 0.5))
			ks2 += ms(percentile(res["containerd"].m[op], 0.5))
		}
		var floorCS, floorSum *float64
		if par == 1 {
			floorCS = fp50("mount+runc create", "runc start")
			floorSum = fp50(floorOps...)
		}
		add(section, "CreateContainer+StartContainer p50", "ms", cs2, ks2, floorCS, "")
		add(section, "sum of the seven p50s", "ms", sumC, sumK, floorSum, "")
	}
	if fl != nil {
		for _, op := range floorOps {
			v := ms(percentile(floorS.m[op], 0.5))
			rep.Rows = append(rep.Rows, row{Section: "floor (no daemon)", Metric: op + " p50", Unit: "ms", Floor: &v})
		}
	}

	log.Printf("%d running pods", o.pods)
	running := map[string][]string{}
	ctrs := map[string][]string{}
	for _, d := range both {
		pods, cs, err := runningPods(ctx, d, "run", o.pods, 1, true)
		running[d.name], ctrs[d.name] = pods, cs
		if err != nil {
			return err
		}
	}
	time.Sleep(3 * time.Second)
	type fp struct{ daemon, monitor, infra mem }
	foot := map[string]fp{}
	for _, d := range both {
		m := d.monitors()
		dm, _ := memOf(d.pid())
		foot[d.name] = fp{dm, memSum(m["monitor"]), memSum(m["infra"])}
		log.Printf("%s: %d monitors, %d infra processes", d.name, len(m["monitor"]), len(m["infra"]))
	}
	pods := float64(o.pods)
	fc, fk := foot["crio"], foot["containerd"]
	sec := fmt.Sprintf("footprint, %d running pods", o.pods)
	add(sec, "daemon RSS", "MiB", fc.daemon.rss/1024, fk.daemon.rss/1024, nil, "")
	add(sec, "daemon PSS", "MiB", fc.daemon.pss/1024, fk.daemon.pss/1024, nil, "")
	add(sec, "monitor RSS per pod", "MiB", fc.monitor.rss/1024/pods, fk.monitor.rss/1024/pods, nil, "conmon (crio), containerd-shim-runc-v2 (containerd)")
	add(sec, "monitor PSS per pod", "MiB", fc.monitor.pss/1024/pods, fk.monitor.pss/1024/pods, nil, "")
	add(sec, "infra RSS per pod", "MiB", fc.infra.rss/1024/pods, fk.infra.rss/1024/pods, nil, "crio-pause (crio; only pods sharing a PID namespace have one), /pause container (containerd)")
	add(sec, "infra PSS per pod", "MiB", fc.infra.pss/1024/pods, fk.infra.pss/1024/pods, nil, "")
	add(sec, "daemon + monitors PSS", "MiB", (fc.daemon.pss+fc.monitor.pss)/1024, (fk.daemon.pss+fk.monitor.pss)/1024, nil, "")
	add(sec, "daemon + monitors + infra PSS", "MiB", (fc.daemon.pss+fc.monitor.pss+fc.infra.pss)/1024, (fk.daemon.pss+fk.monitor.pss+fk.infra.pss)/1024, nil, "")

	log.Printf("ExecSync")
	ex := map[string]*samples{}
	for _, d := range both {
		s, err := execCost(ctx, d, ctrs[d.name][0], o.execN)
		if err != nil {
			return err
		}
		ex[d.name] = s
	}
	add("exec", "ExecSync true p50", "ms", ms(percentile(ex["crio"].m["ExecSync"], 0.5)), ms(percentile(ex["containerd"].m["ExecSync"], 0.5)), nil, "")

	listRows := func(n int) error {
		res := map[string]*samples{}
		for _, d := range both {
			s, err := listCost(ctx, d, o.listN, n)
			if err != nil {
				return err
			}
			res[d.name] = s
		}
		for _, op := range []string{"ListContainers", "ListContainers undecoded", "ListPodSandbox", "ListContainerStats"} {
			note := ""
			if op == "ListContainers undecoded" {
				note = "the same call, answer left undecoded: the daemon's and the transport's share"
			}
			add(fmt.Sprintf("list, %d containers", n), op+" p50", "ms", ms(percentile(res["crio"].m[op], 0.5)), ms(percentile(res["containerd"].m[op], 0.5)), nil, note)
		}
		return nil
	}
	log.Printf("list cost, %d containers", o.pods)
	if err := listRows(o.pods); err != nil {
		return err
	}
	if !o.skipList {
		log.Printf("list cost, %d containers", o.pods*10)
		for _, d := range both {
			// Nine more (created, not started) containers in each pod.
			if err := moreContainers(ctx, d, running[d.name], 9); err != nil {
				return err
			}
		}
		if o.profile {
			go fetchPprof(ctx, c.pprofSock, "/debug/pprof/profile?seconds=5", filepath.Join(o.out, "crio-cpu-list500.pprof"))
		}
		if err := listRows(o.pods * 10); err != nil {
			return err
		}
	}
	for _, d := range both {
		removePods(ctx, d, running[d.name])
	}

	addRow := func(r row) { rep.Rows = append(rep.Rows, r) }
	if err := pullSection(ctx, reg.Addr, c, k, pullCases(o), add, addRow); err != nil {
		return err
	}

	if o.critest != "" {
		if err := critestBenchmark(ctx, o, work, both, add); err != nil {
			log.Printf("critest -benchmark: %v", err)
		}
	}
	return writeReport(o, rep)
}

// moreContainers creates n more containers (not started) in each pod.
func moreContainers(ctx context.Context, d *daemon, pods []string, n int) error {
	for _, p := range pods {
		st, err := d.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p})
		if err != nil {
			return err
		}
		md := st.Status.Metadata
		pc := &runtimeapi.PodSandboxConfig{Metadata: md, Labels: st.Status.Labels, Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: kubeletNamespaces()}}}
		for j := 0; j < n; j++ {
			if _, err := d.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: p, Config: containerConfig(fmt.Sprintf("idle%d", j)), SandboxConfig: pc}); err != nil {
				return fmt.Errorf("%s: creating container: %w", d.name, err)
			}
		}
	}
	return nil
}

func writeReport(o *options, rep *report) error {
	var md strings.Builder
	fmt.Fprintf(&md, "# crio vs containerd, %s\n\n", rep.Date)
	fmt.Fprintf(&md, "crio %v, containerd %v, runc %v; %v pods per lifecycle run, %v running pods.\n",
		rep.Options["crioVersion"], rep.Options["containerdVersion"], o.runc, o.n, o.pods)
	fmt.Fprintf(&md, "Ratio is crio / containerd (lower is better for crio). Floor: the same work with no daemon.\n\n")
	section := ""
	for _, r := range rep.Rows {
		if r.Section != section {
			section = r.Section
			fmt.Fprintf(&md, "\n## %s\n\n| figure | unit | crio | containerd | ratio | floor | note |\n| --- | --- | ---: | ---: | ---: | ---: | --- |\n", section)
		}
		fl, ratio, cv, kv := "", "", "", ""
		if r.Floor != nil {
			fl = fmt.Sprintf("%.1f", *r.Floor)
		}
		if r.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		if r.Crio != 0 || r.Containerd != 0 {
			cv, kv = num(r.Crio), num(r.Containerd)
		}
		if r.CrioOnly {
			cv, kv = num(r.Crio), "-"
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Metric, r.Unit, cv, kv, ratio, fl, r.Note)
	}
	if len(rep.Spawns) > 0 {
		fmt.Fprintf(&md, "\n## processes exec'd per pod (one pod, one container, full lifecycle)\n\n")
		names := make([]string, 0, len(rep.Spawns))
		for n := range rep.Spawns {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			s := rep.Spawns[n].(map[string]any)
			counts := s["byProgram"].(map[string]int)
			progs := make([]string, 0, len(counts))
			for p, c := range counts {
				progs = append(progs, fmt.Sprintf("%s x%d", p, c))
			}
			sort.Strings(progs)
			fmt.Fprintf(&md, "- %s: %d: %s\n", n, s["total"], strings.Join(progs, ", "))
		}
	}
	fmt.Print(md.String())
	if err := os.WriteFile(filepath.Join(o.out, "bench.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	log.Printf("report: %s and bench.json", filepath.Join(o.out, "bench.md"))
	return os.WriteFile(filepath.Join(o.out, "bench.json"), js, 0o644)
}

func num(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	if v >= 1 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// cleanupDaemon removes every pod the daemon still has, stops it, and
// frees what containers and CNI left on the host.
func cleanupDaemon(d *daemon) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if d.rt != nil && d.cmd != nil && d.cmd.ProcessState == nil {
		if r, err := d.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{}); err == nil {
			ids := make([]string, 0, len(r.Items))
			for _, p := range r.Items {
				ids = append(ids, p.Id)
			}
			removePods(ctx, d, ids)
		}
	}
	var shims []int
	if d.name == "containerd" && d.monitors != nil {
		shims = d.monitors()["monitor"]
	}
	d.stop()
	// Shims and conmons outlive their daemon by design.
	for _, pid := range shims {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	filepath.Walk(d.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Name() == "conmon.pid" {
			if pid, err := readPID(p); err == nil && containsArg(cmdline(pid), d.dir) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return nil
	})
	exec.Command("ip", "link", "del", d.bridge).Run()
	os.RemoveAll(filepath.Join("/var/lib/cni/networks", d.net))
}

// cleanupWork unmounts whatever is left below work and removes it.
func cleanupWork(work string, keep bool) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], work) {
			mounts = append(mounts, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	if keep {
		log.Printf("kept %s", work)
		return
	}
	os.RemoveAll(work)
}
