package container

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
)

func TestContainerMinMemoryRefusesLowerLimits(t *testing.T) {
	h := config.RuntimeHandler{ContainerMinMemory: "500KiB"}
	for _, c := range []struct {
		limit int64
		ok    bool
	}{{0, true}, {500 << 10, true}, {1 << 30, true}, {500<<10 - 1, false}, {4096, false}, {-1, false}} {
		err := checkMinMemory(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: c.limit}, "runc", h)
		if c.ok != (err == nil) {
			t.Errorf("limit %d: err = %v; want ok=%v", c.limit, err, c.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "container_min_memory")) {
			t.Errorf("limit %d: err = %v; want ErrInvalid naming container_min_memory", c.limit, err)
		}
	}
	if err := checkMinMemory(&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 8 << 20}, "runc", config.RuntimeHandler{}); err == nil {
		t.Error("8MiB passed the default container_min_memory of 12MiB")
	}
	if err := checkMinMemory(nil, "runc", config.RuntimeHandler{}); err != nil {
		t.Errorf("no resources: %v", err)
	}
}

func TestDevicesAnnotation(t *testing.T) {
	rc := &config.RuntimeConfig{
		Runtimes:       map[string]config.RuntimeHandler{"open": {AllowedAnnotations: []string{config.DevicesAnnotationV1}}, "closed": {}},
		AllowedDevices: []string{"/dev/null", "/dev/zero", "/tmp"},
	}
	ann := func(v string) map[string]string { return map[string]string{config.DevicesAnnotationV1: v} }
	got, err := annotationDevices(rc, "open", ann("/dev/null,/dev/zero:/dev/z:r,"))
	if want := []string{"/dev/null:/dev/null:rwm", "/dev/zero:/dev/z:r"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("allowed: %v %v; want %v", got, err, want)
	}
	if got, err := annotationDevices(rc, "closed", ann("/dev/kmsg")); err != nil || got != nil {
		t.Errorf("a handler that does not allow the annotation: %v %v; want it ignored", got, err)
	}
	for _, bad := range []string{"/dev/kmsg", "/dev/null:/etc/null", "/dev/null:/dev/n:rwx", "/tmp"} {
		_, err := annotationDevices(rc, "open", ann(bad))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), config.DevicesAnnotationV1) {
			t.Errorf("%q: err = %v; want ErrInvalid naming the annotation", bad, err)
		}
	}
	if _, err := annotationDevices(rc, "open", ann("/dev/kmsg")); err == nil || !strings.Contains(err.Error(), "allowed_devices") {
		t.Errorf("a device outside allowed_devices: err = %v; want it to name allowed_devices", err)
	}
}

func TestDefaultAnnotationsTakeThePodsValue(t *testing.T) {
	h := config.RuntimeHandler{DefaultAnnotations: map[string]string{"a": "1", "b": "2"}}
	got := defaultAnnotations(h, map[string]string{"b": "pod", "c": "other"})
	if want := map[string]string{"a": "1", "b": "pod"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestDefaultMountsCopiesTheHostFiles(t *testing.T) {
	host := t.TempDir()
	secrets := filepath.Join(host, "secrets")
	os.MkdirAll(filepath.Join(secrets, "sub"), 0o750)
	os.WriteFile(filepath.Join(secrets, "sub", "key"), []byte("k"), 0o600)
	os.WriteFile(filepath.Join(host, "one"), []byte("1"), 0o644)
	conf := filepath.Join(host, "mounts.conf")
	os.WriteFile(conf, []byte("# comment\n\n"+secrets+":/run/secrets\n"+filepath.Join(host, "one")+"\n"+filepath.Join(host, "absent")+":/x\n"), 0o644)
	run := t.TempDir()
	got, err := defaultMounts(conf, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Destination != "/run/secrets" || got[1].Destination != filepath.Join(host, "one") {
		t.Fatalf("mounts = %+v; want /run/secrets and the file, the absent host path skipped", got)
	}
	if b, err := os.ReadFile(filepath.Join(got[0].Source, "sub", "key")); err != nil || string(b) != "k" {
		t.Errorf("the copied directory lacks sub/key: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(got[0].Source, "sub")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("copied sub/ mode = %v %v; want 0750", fi.Mode(), err)
	}
	if !strings.HasPrefix(got[0].Source, run) {
		t.Errorf("copy %s is not in the run directory %s", got[0].Source, run)
	}
	// Writing the copy leaves the host's file alone.
	os.WriteFile(filepath.Join(got[1].Source), []byte("changed"), 0o644)
	if b, _ := os.ReadFile(filepath.Join(host, "one")); string(b) != "1" {
		t.Errorf("the host file changed with its copy: %q", b)
	}
	if got, err := defaultMounts(filepath.Join(host, "nothing.conf"), run, nil); err != nil || got != nil {
		t.Errorf("a missing mounts.conf: %v %v; want no mounts and no error", got, err)
	}
	os.WriteFile(conf, []byte("relative:/x\n"), 0o644)
	if _, err := defaultMounts(conf, run, nil); err == nil || !strings.Contains(err.Error(), conf+":1") || !strings.Contains(err.Error(), "default_mounts_file") {
		t.Errorf("a malformed line: err = %v; want one naming the key, file and line", err)
	}
}
