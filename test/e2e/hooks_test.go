package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

// hookScript appends the OCI state it is given on stdin, one line per
// call, to the file named by its first argument; with a second argument
// it fails with that message instead, as a hook refusing a container
// would.
const hookScript = `#!/bin/sh
if [ -n "$2" ]; then
	echo "$2" >&2
	exit 3
fi
cat >> "$1"
echo >> "$1"
`

// hookStates reads the states a hook recorded, by container ID.
func hookStates(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var st struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			t.Fatalf("hook state %q: %v", line, err)
		}
		out[st.ID] = append(out[st.ID], st.Status)
	}
	return out
}

func TestOCIHooksFromHooksDirRunForMatchingContainersAndTheirFailureFailsCreate(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(script, []byte(hookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(dir, "states")
	// Two directories: a file in the second overrides one of the same name
	// in the first, as CRI-O documents.
	shared, override := filepath.Join(dir, "hooks.d"), filepath.Join(dir, "hooks-override.d")
	writeHook := func(dir, name string, annotation string, stages []string, args ...string) {
		t.Helper()
		h := map[string]any{
			"version": "1.0.0",
			"hook":    map[string]any{"path": script, "args": append([]string{"hook.sh"}, args...), "env": []string{"PATH=/usr/bin:/bin"}},
			"when":    map[string]any{"annotations": map[string]string{`^crio\.test/hook$`: "^" + annotation + "$"}},
			"stages":  stages,
		}
		b, _ := json.Marshal(h)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeHook(shared, "record.json", "yes", []string{"prestart", "poststart", "poststop"}, record)
	writeHook(shared, "refuse.json", "refuse", []string{"prestart"}, record)
	writeHook(override, "refuse.json", "refuse", []string{"prestart"}, record, "hook refused the container: quota exceeded")

	d := newImageDaemon(t, imageDaemonOptions{registry: sharedRegistry(t).Addr, config: fmt.Sprintf(`
[crio.runtime]
hooks_dir = [%q, %q, %q]
`, shared, override, filepath.Join(dir, "absent.d"))})
	mustPull(t, d, ctrImage)
	podID, pc := pod(t, d, "hooks")

	annotated := func(v string) func(*runtimeapi.ContainerConfig) {
		return func(c *runtimeapi.ContainerConfig) { c.Annotations = map[string]string{"crio.test/hook": v} }
	}
	hooked := run(t, d, podID, pc, ctrConfig("hooked", []string{"true"}, annotated("yes")))
	plain := run(t, d, podID, pc, ctrConfig("plain", []string{"true"}, annotated("no")))
	waitExited(t, d, hooked, 30*time.Second)
	waitExited(t, d, plain, 30*time.Second)

	// poststop runs when the runtime deletes the exited container, which
	// happens after its exit is recorded: wait for it.
	deadline := time.Now().Add(20 * time.Second)
	var got map[string][]string
	for {
		got = hookStates(t, record)
		if len(got[hooked]) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The state each stage is given, as runc gives it: prestart while
	// creating, poststart once started (runc still says "created" there),
	// poststop once stopped.
	if s := got[hooked]; len(s) != 3 || s[0] != "creating" || (s[1] != "created" && s[1] != "running") || s[2] != "stopped" {
		t.Errorf("hook states of the annotated container = %v, want [creating created|running stopped] (prestart, poststart, poststop)", s)
	}
	if len(got[plain]) != 0 {
		t.Errorf("the hook ran for a container whose annotation does not match: %v", got[plain])
	}
	if len(got) != 1 {
		t.Errorf("hook ran for %d containers, want 1: %v", len(got), got)
	}

	// The override's failing prestart hook: CreateContainer fails with its
	// message, and the name is free again (nothing was kept).
	refused := ctrConfig("refused", []string{"true"}, annotated("refuse"))
	_, err := d.Runtime.CreateContainer(framework.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: refused, SandboxConfig: pc})
	if err == nil {
		t.Fatal("CreateContainer with a failing prestart hook succeeded")
	}
	if !strings.Contains(err.Error(), "hook refused the container: quota exceeded") {
		t.Errorf("CreateContainer error does not carry the hook's message: %v", err)
	}
	if c := status.Code(err); c == codes.OK || c == codes.Unknown {
		t.Errorf("CreateContainer error code %v, want a definite code", c)
	}
	list, err := d.Runtime.ListContainers(framework.Ctx(t), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: podID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Containers) != 2 {
		t.Errorf("after the refused create the pod has %d containers, want the 2 made before", len(list.Containers))
	}
	// Without the annotation the same name is created: nothing reserved it.
	refused.Annotations = nil
	create(t, d, podID, pc, refused)
	if got := hookStates(t, record); len(got) != 1 {
		t.Errorf("hook states after the refusal: %v, want only the first container's", got)
	}
	removeAllPods(t, d, nil)
	assertNoLeaks(t, d, "after the hooks test")
}
