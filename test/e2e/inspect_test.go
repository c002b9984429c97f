package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/inspect"
	"github.com/crio/crio/test/framework"
)

// inspectGet asks the daemon's inspect API on its CRI socket, the way
// cAdvisor's CRI-O client does, and returns the status code.
func inspectGet(t *testing.T, d *framework.Daemon, path string, v any) int {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.Socket)
	}}}
	resp, err := c.Get("http://crio" + path)
	if err != nil {
		t.Fatalf("GET %s on the CRI socket: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: decoding: %v", path, err)
		}
	}
	return resp.StatusCode
}

// The kubelet's cAdvisor reads a container's pid, labels and writable
// layer from CRI-O's HTTP API on the CRI socket; gRPC keeps working on
// the same socket.
func TestInspectAPIOnTheCRISocket(t *testing.T) {
	d := containerDaemon(t)
	var info inspect.Info
	if code := inspectGet(t, d, "/info", &info); code != http.StatusOK {
		t.Fatalf("GET /info: status %d", code)
	}
	if info.StorageDriver != "overlay" || info.CgroupDriver != "cgroupfs" {
		t.Errorf("GET /info = %+v; want the overlay driver and cgroupfs", info)
	}
	if _, err := os.Stat(filepath.Join(info.StorageRoot, "overlay")); err != nil {
		t.Errorf("storage_root %q has no overlay directory: %v", info.StorageRoot, err)
	}

	podID, pc := pod(t, d, "inspect")
	cfg := ctrConfig("sleeper", []string{"sleep", "600"})
	cfg.Labels = map[string]string{"io.kubernetes.container.name": "sleeper"}
	cfg.Annotations = map[string]string{"io.kubernetes.container.restartCount": "2"}
	id := run(t, d, podID, pc, cfg)

	var c inspect.Container
	if code := inspectGet(t, d, "/containers/"+id, &c); code != http.StatusOK {
		t.Fatalf("GET /containers/%s: status %d", id, code)
	}
	st := ctrStatus(t, d, id).Status
	if want := verboseInfo(t, d, id).PID; c.Pid != want || want == 0 {
		t.Errorf("pid %d; the verbose status says %d", c.Pid, want)
	}
	if c.Labels["io.kubernetes.container.name"] != "sleeper" || c.Annotations["io.kubernetes.container.restartCount"] != "2" {
		t.Errorf("labels %v, annotations %v; want the container config's", c.Labels, c.Annotations)
	}
	if c.LogPath != st.LogPath || c.Image != st.Image.Image || c.CreatedTime != st.CreatedAt {
		t.Errorf("log %q image %q created %d; status says %q %q %d", c.LogPath, c.Image, c.CreatedTime, st.LogPath, st.Image.Image, st.CreatedAt)
	}
	// cAdvisor swaps merged for diff to find the writable layer.
	if filepath.Base(c.Root) != "merged" {
		t.Errorf("root %q is not overlay's merged directory", c.Root)
	} else if _, err := os.Stat(filepath.Join(filepath.Dir(c.Root), "diff")); err != nil {
		t.Errorf("no writable layer beside root: %v", err)
	}
	podSt, _ := podStatus(t, d, podID)
	if c.IP != podSt.GetNetwork().GetIp() {
		t.Errorf("ip %q; the pod's is %q", c.IP, podSt.GetNetwork().GetIp())
	}

	if code := inspectGet(t, d, "/containers/0123456789abcdef", &c); code != http.StatusNotFound {
		t.Errorf("GET of an unknown container: status %d, want 404", code)
	}
	if _, err := d.Runtime.Version(framework.Ctx(t), &runtimeapi.VersionRequest{}); err != nil {
		t.Errorf("gRPC after the HTTP requests: %v", err)
	}
}
