package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/hack/testregistry"
)

// pullCase is one image of the pull section, pulled cold n times by each
// daemon.
type pullCase struct {
	label string // as the report names it
	repo  string // path in the test registry
	n     int
}

// pullTimes are crio's own split of one pull, read from its "pulled image"
// log line; ok is false when the line or its split is missing.
type pullTimes struct {
	duration, fetch, decompress, commit time.Duration
	ok                                  bool
}

// pullResult is what the rounds of one image measured on one daemon.
type pullResult struct {
	rpc      []time.Duration // PullImage, as the client sees it
	split    []pullTimes     // crio only
	leftMiB  float64         // most disk growth any round left after RemoveImage
	kept     int             // rounds after which a layer was still on disk
	warmHits int             // rounds that started with a layer already on disk
	blind    int             // rounds in which the check did not see every pulled layer
}

// layerID names a layer as the daemons' stores do: by the hex of its
// compressed digest (containerd's content store) or of its diff ID
// (containers/storage records both).
type layerID struct{ digest, diffID string }

// pullSection measures cold pulls of each case on both daemons: every
// round pulls the image on one daemon then the other (alternating which
// goes first, so drift hits both), removes it, and checks that no layer
// blob or layer is left on disk, so that the next round fetches every
// blob again. crio is switched to log level info for the section (SIGHUP)
// to get its "pulled image" line. Busybox is removed first (the big image
// may be built on its layer) and pulled back at the end.
func pullSection(ctx context.Context, regAddr string, c, k *daemon, cases []pullCase,
	add func(section, metric, unit string, cv, kv float64, floor *float64, note string),
	addRow func(row),
) error {
	both := []*daemon{c, k}
	if err := crioLogLevel(c, "info"); err != nil {
		log.Printf("crio: log level info: %v (no fetch/decompress/commit split)", err)
	}
	defer func() {
		if err := crioLogLevel(c, "warn"); err != nil {
			log.Printf("crio: log level back to warn: %v", err)
		}
	}()
	busyboxRef := "registry.k8s.io/" + testregistry.BusyboxImage
	for _, d := range both {
		if _, err := d.img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: busyboxRef}}); err != nil {
			return fmt.Errorf("%s: removing %s before the pull rounds: %w", d.name, busyboxRef, err)
		}
	}
	defer func() {
		for _, d := range both {
			if _, err := d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busyboxRef}}); err != nil {
				log.Printf("%s: pulling %s back: %v", d.name, busyboxRef, err)
			}
		}
	}()
	const section = "pull"
	for _, pc := range cases {
		if pc.n <= 0 {
			continue
		}
		ref := "registry.k8s.io/" + pc.repo
		layers, size, err := layerDigests(ctx, regAddr, pc.repo)
		if err != nil {
			return err
		}
		shape := fmt.Sprintf("%.1f MiB compressed in %d layer%s", float64(size)/(1<<20), len(layers), plural(len(layers)))
		log.Printf("pull: %s (%s), %d cold pulls on each daemon", ref, shape, pc.n)
		res := map[string]*pullResult{"crio": {}, "containerd": {}}
		for i := 0; i < pc.n; i++ {
			order := both
			if i%2 == 1 {
				order = []*daemon{k, c}
			}
			for _, d := range order {
				if err := coldPull(ctx, d, ref, layers, size, res[d.name]); err != nil {
					return err
				}
			}
		}
		rc, rk := res["crio"], res["containerd"]
		note := fmt.Sprintf("%s; %d cold pulls each: removed after each pull, its layers checked gone from disk", shape, pc.n)
		for _, r := range []struct {
			name string
			res  *pullResult
		}{{"crio", rc}, {"containerd", rk}} {
			if r.res.kept > 0 || r.res.warmHits > 0 {
				note += fmt.Sprintf("; NOT ALL COLD on %s: layers left after RemoveImage in %d rounds, present before the pull in %d", r.name, r.res.kept, r.res.warmHits)
			}
			if r.res.blind > 0 {
				note += fmt.Sprintf("; the check did not find every pulled layer on %s's disk in %d rounds (it may be blind there)", r.name, r.res.blind)
			}
		}
		add(section, "PullImage "+pc.label+" p50", "ms", ms(percentile(rc.rpc, 0.5)), ms(percentile(rk.rpc, 0.5)), nil, note)
		add(section, "PullImage "+pc.label+" p90", "ms", ms(percentile(rc.rpc, 0.9)), ms(percentile(rk.rpc, 0.9)), nil, "")
		// No ratio: both should be about zero.
		addRow(row{Section: section, Metric: pc.label + ": disk left after RemoveImage, max", Unit: "MiB", Crio: rc.leftMiB, Containerd: rk.leftMiB,
			Note: "growth of the daemon's directory over a round (metadata databases)"})
		var dur, fetch, dec, commit []time.Duration
		for _, t := range rc.split {
			if t.ok {
				dur, fetch, dec, commit = append(dur, t.duration), append(fetch, t.fetch), append(dec, t.decompress), append(commit, t.commit)
			}
		}
		if len(fetch) == 0 {
			log.Printf("pull: crio logged no fetch/decompress/commit split for %s; skipping those rows", ref)
			continue
		}
		splitNote := fmt.Sprintf("crio only, from its \"pulled image\" log line (%d of %d pulls); the phases may overlap", len(fetch), len(rc.split))
		for _, f := range []struct {
			what string
			ds   []time.Duration
		}{{"logged duration", dur}, {"fetch", fetch}, {"decompress", dec}, {"commit", commit}} {
			addRow(row{Section: section, Metric: pc.label + ": crio " + f.what + " p50", Unit: "ms", Crio: ms(percentile(f.ds, 0.5)), Note: splitNote, CrioOnly: true})
			splitNote = ""
		}
	}
	return nil
}

// coldPull is one round of one image on one daemon.
func coldPull(ctx context.Context, d *daemon, ref string, layers []layerID, size int64, res *pullResult) error {
	if left := layersOnDisk(d.dir, layers); len(left) > 0 {
		res.warmHits++
		log.Printf("%s: %d layer blobs of %s on disk before the pull", d.name, len(left), ref)
	}
	before := diskUsage(d.dir)
	var logOff int64
	if d.name == "crio" {
		if fi, err := d.logf.Stat(); err == nil {
			logOff = fi.Size()
		}
	}
	t := time.Now()
	if _, err := d.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
		return fmt.Errorf("%s: pulling %s: %w", d.name, ref, err)
	}
	res.rpc = append(res.rpc, time.Since(t))
	if d.name == "crio" {
		res.split = append(res.split, pulledLine(d.logf.Name(), logOff, ref))
	}
	// The check must see the layers while the image is there, or its
	// "gone" below means nothing.
	if seen := layersOnDisk(d.dir, layers); len(seen) < len(layers) {
		res.blind++
		log.Printf("%s: found %d of the %d layers of %s on disk after pulling it", d.name, len(seen), len(layers), ref)
	}
	if _, err := d.img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
		return fmt.Errorf("%s: removing %s: %w", d.name, ref, err)
	}
	// Both daemons delete synchronously (containerd's CRI deletes the
	// last reference with a synchronous garbage collection); allow a
	// little time all the same.
	var left []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if left = layersOnDisk(d.dir, layers); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		res.kept++
		log.Printf("%s: %d layers of %s still on disk after RemoveImage: %v", d.name, len(left), ref, left)
	}
	grew := diskUsage(d.dir) - before
	if mib := float64(grew) / (1 << 20); mib > res.leftMiB {
		res.leftMiB = mib
	}
	if grew > size/2 {
		log.Printf("%s: %.1f MiB more on disk after pulling and removing %s", d.name, float64(grew)/(1<<20), ref)
	}
	return nil
}

// layerDigests returns the layers of the image the test registry serves
// as repo, and their compressed size.
func layerDigests(ctx context.Context, regAddr, repo string) ([]layerID, int64, error) {
	r, err := name.ParseReference(regAddr+"/"+repo, name.Insecure)
	if err != nil {
		return nil, 0, err
	}
	img, err := remote.Image(r, remote.WithContext(ctx))
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s from the test registry: %w", repo, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, 0, err
	}
	var out []layerID
	var size int64
	for _, l := range layers {
		dg, err := l.Digest()
		if err != nil {
			return nil, 0, err
		}
		id, err := l.DiffID()
		if err != nil {
			return nil, 0, err
		}
		n, err := l.Size()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, layerID{dg.Hex, id.Hex})
		size += n
	}
	return out, size, nil
}

// layersOnDisk lists (by short digest) the layers that a file or
// directory under dir is named after (containerd's content store:
// blobs/sha256/HEX) or that a JSON file under dir mentions
// (containers/storage's layers.json), by digest or diff ID.
func layersOnDisk(dir string, layers []layerID) []string {
	var hexes []string
	for _, l := range layers {
		hexes = append(hexes, l.digest, l.diffID)
	}
	found := map[string]bool{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if fi.IsDir() && fi.Name() == "cni" {
			return filepath.SkipDir
		}
		for _, h := range hexes {
			if strings.Contains(fi.Name(), h) {
				found[h] = true
			}
		}
		if fi.Mode().IsRegular() && strings.HasSuffix(fi.Name(), ".json") && fi.Size() < 64<<20 {
			if b, err := os.ReadFile(p); err == nil {
				for _, h := range hexes {
					if strings.Contains(string(b), h) {
						found[h] = true
					}
				}
			}
		}
		return nil
	})
	var out []string
	for _, l := range layers {
		if found[l.digest] || found[l.diffID] {
			out = append(out, l.digest[:12])
		}
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// diskUsage is the space the files under dir take, in bytes, without
// crossing into other file systems.
func diskUsage(dir string) int64 {
	var dev uint64
	if st, err := os.Stat(dir); err == nil {
		dev = st.Sys().(*syscall.Stat_t).Dev
	}
	var total int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Dev != dev {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		total += st.Blocks * 512
		return nil
	})
	return total
}

var logLevelRE = regexp.MustCompile(`(?m)^log_level = ".*"$`)

// crioLogLevel sets crio's log level through its configuration file and
// SIGHUP, and waits for the daemon to log the change when that is visible
// at the new level.
func crioLogLevel(d *daemon, level string) error {
	b, err := os.ReadFile(d.cfg)
	if err != nil {
		return err
	}
	if !logLevelRE.Match(b) {
		return fmt.Errorf("no log_level in %s", d.cfg)
	}
	if err := os.WriteFile(d.cfg, logLevelRE.ReplaceAll(b, []byte(fmt.Sprintf("log_level = %q", level))), 0o644); err != nil {
		return err
	}
	fi, err := d.logf.Stat()
	if err != nil {
		return err
	}
	off := fi.Size()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return err
	}
	if level != "info" && level != "debug" {
		time.Sleep(500 * time.Millisecond)
		return nil
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		found := false
		eachLogLine(d.logf.Name(), off, func(l map[string]any) {
			if s, _ := l["msg"].(string); strings.HasPrefix(s, "configuration reloaded") {
				found = true
			}
		})
		if found {
			return nil
		}
	}
	return fmt.Errorf("crio did not log the reload within 10s")
}

// pulledLine finds the "pulled image" line crio logged for ref after
// offset off of its log, and reads its duration attributes.
func pulledLine(path string, off int64, ref string) pullTimes {
	var t pullTimes
	eachLogLine(path, off, func(l map[string]any) {
		if l["msg"] != "pulled image" {
			return
		}
		if img, _ := l["image"].(string); img != "" && img != ref && !strings.HasSuffix(ref, img) && !strings.HasSuffix(img, ref) {
			return
		}
		var lt pullTimes
		var okAll = true
		for _, f := range []struct {
			key string
			dst *time.Duration
		}{{"duration", &lt.duration}, {"fetch", &lt.fetch}, {"decompress", &lt.decompress}, {"commit", &lt.commit}} {
			v, ok := logDuration(l[f.key])
			*f.dst = v
			okAll = okAll && ok
		}
		lt.ok = okAll
		t = lt
	})
	return t
}

// logDuration reads a duration attribute: a Go duration string (the text
// handler, or a JSON string) or a number of nanoseconds (slog's JSON
// handler writes time.Duration so).
func logDuration(v any) (time.Duration, bool) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(x)
		return d, err == nil
	case float64:
		return time.Duration(x), true
	}
	return 0, false
}

// eachLogLine calls fn with the attributes of each line of a slog log
// (text or JSON handler) from offset off on.
func eachLogLine(path string, off int64, fn func(map[string]any)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line[0] == '{' {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil {
				fn(m)
			}
			continue
		}
		fn(parseTextLine(line))
	}
}

// parseTextLine splits a slog text handler line (key=value, values quoted
// with Go syntax when they need it) into its attributes.
func parseTextLine(s string) map[string]any {
	m := map[string]any{}
	for {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return m
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return m
			}
			val, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else if sp := strings.IndexByte(s, ' '); sp >= 0 {
			val, s = s[:sp], s[sp:]
		} else {
			val, s = s, ""
		}
		m[key] = val
	}
}
