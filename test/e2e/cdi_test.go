package e2e

import (
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

func TestCDIDevicesAreInjected(t *testing.T) {
	d := containerDaemon(t)
	specDir := filepath.Join(d.Dir, "cdi")
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := `{"cdiVersion": "0.6.0", "kind": "crio.test/device", "devices": [
	  {"name": "one", "containerEdits": {"env": ["CDI_ONE=yes"],
	    "deviceNodes": [{"path": "/dev/crio-cdi-null", "hostPath": "/dev/null"}]}},
	  {"name": "two", "containerEdits": {"env": ["CDI_TWO=yes"]}}]}`
	if err := os.WriteFile(filepath.Join(specDir, "test.json"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	d.WriteDropIn("60-cdi.conf", fmt.Sprintf("[crio.runtime]\ncdi_spec_dirs = [%q]\n", specDir))
	d.Stop()
	d.Start()

	podID, pc := pod(t, d, "cdi")
	id := run(t, d, podID, pc, ctrConfig("dev", []string{"sh", "-c", "echo one=$CDI_ONE two=$CDI_TWO; test -c /dev/crio-cdi-null && echo has-node"},
		func(c *runtimeapi.ContainerConfig) {
			c.CDIDevices = []*runtimeapi.CDIDevice{{Name: "crio.test/device=one"}}
			c.Annotations = map[string]string{"cdi.k8s.io/test": "crio.test/device=two"}
		}))
	waitExited(t, d, id, 30*time.Second)
	out := strings.Join(logText(t, filepath.Join(pc.LogDirectory, "dev.log")), "\n")
	for _, want := range []string{"one=yes", "two=yes", "has-node"} {
		if !strings.Contains(out, want) {
			t.Errorf("container output lacks %q:\n%s", want, out)
		}
	}
	_, err := d.Runtime.CreateContainer(framework.Ctx(t), &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
		Config: ctrConfig("unknown", []string{"true"}, func(c *runtimeapi.ContainerConfig) {
			c.CDIDevices = []*runtimeapi.CDIDevice{{Name: "crio.test/device=three"}}
		})})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "crio.test/device=three") {
		t.Errorf("unknown CDI device: %v, want InvalidArgument naming it", err)
	}
}
