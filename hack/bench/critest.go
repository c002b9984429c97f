package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// critestResults is the part of critest's benchmark output files the
// report uses.
type critestResults struct {
	OperationsNames []string `json:"operationsNames"`
	Datapoints      []struct {
		OperationsDurationsNs []int64 `json:"operationsDurationsNs"`
	} `json:"datapoints"`
}

// critestBenchmark runs critest -benchmark (pod and container benchmarks,
// not the image ones, which would remove images in use) against each
// daemon and adds each operation's median.
func critestBenchmark(ctx context.Context, o *options, work string, both []*daemon, add func(section, metric, unit string, cv, kv float64, floor *float64, note string)) error {
	params := filepath.Join(work, "critest-params.yaml")
	if err := os.WriteFile(params, []byte(fmt.Sprintf("containersNumber: %d\ncontainersNumberParallel: 1\npodsNumber: %d\npodsNumberParallel: 1\n", o.n, o.n)), 0o644); err != nil {
		return err
	}
	images := filepath.Join(work, "critest-images.yaml")
	if err := os.WriteFile(images, []byte("defaultTestContainerImage: "+busybox+"\nwebServerTestImage: registry.k8s.io/e2e-test-images/nginx:1.14-2\n"), 0o644); err != nil {
		return err
	}
	medians := map[string]map[string]float64{}
	var order []string
	for _, d := range both {
		log.Printf("critest -benchmark against %s", d.name)
		out := filepath.Join(work, "critest-"+d.name)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, o.critest, "-benchmark",
			"-runtime-endpoint", "unix://"+d.sock, "-image-endpoint", "unix://"+d.sock,
			"-test-images-file", images, "-benchmarking-params-file", params, "-benchmarking-output-dir", out,
			"-ginkgo.skip", "Image", "-ginkgo.no-color")
		logf, err := os.Create(filepath.Join(o.out, "critest-benchmark-"+d.name+".log"))
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		t := time.Now()
		err = cmd.Run()
		logf.Close()
		if err != nil {
			return fmt.Errorf("%s: %w (log in %s)", d.name, err, logf.Name())
		}
		log.Printf("critest -benchmark against %s took %s", d.name, time.Since(t).Round(time.Second))
		files, _ := filepath.Glob(filepath.Join(out, "*.json"))
		sort.Strings(files)
		medians[d.name] = map[string]float64{}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			var r critestResults
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			bench := strings.TrimSuffix(filepath.Base(f), ".json")
			for i, op := range r.OperationsNames {
				var ds []time.Duration
				for _, dp := range r.Datapoints {
					if i < len(dp.OperationsDurationsNs) {
						ds = append(ds, time.Duration(dp.OperationsDurationsNs[i]))
					}
				}
				key := bench + ": " + op
				if _, seen := medians["crio"][key]; !seen && d.name == "crio" {
					order = append(order, key)
				}
				medians[d.name][key] = ms(percentile(ds, 0.5))
			}
		}
	}
	for _, key := range order {
		add("critest -benchmark (medians)", key, "ms", medians["crio"][key], medians["containerd"][key], nil, "")
	}
	return nil
}
