package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCtrStopTimeoutBelow30IsRaisedWithAWarning(t *testing.T) {
	for _, c := range []struct {
		set      string
		want     int64
		warning  bool
		refusing bool
	}{
		{"", 30, false, false},
		{"ctr_stop_timeout = 0", 30, true, false},
		{"ctr_stop_timeout = 10", 30, true, false},
		{"ctr_stop_timeout = 30", 30, false, false},
		{"ctr_stop_timeout = 120", 120, false, false},
		{"ctr_stop_timeout = -1", 0, false, true},
	} {
		f := write(t, filepath.Join(t.TempDir(), "c.conf"), "[crio.runtime]\n"+c.set+"\n")
		l, err := Load(f, "", true, false)
		if c.refusing {
			if err == nil || !strings.Contains(err.Error(), "crio.runtime.ctr_stop_timeout") {
				t.Errorf("%q: err = %v, want a refusal naming crio.runtime.ctr_stop_timeout", c.set, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", c.set, err)
		}
		if got := l.Runtime.CtrStopTimeout; got != c.want {
			t.Errorf("%q: ctr_stop_timeout = %d, want %d", c.set, got, c.want)
		}
		warned := strings.Contains(strings.Join(l.Warnings, "\n"), "ctr_stop_timeout")
		if warned != c.warning {
			t.Errorf("%q: warned = %v (%q), want %v", c.set, warned, l.Warnings, c.warning)
		}
	}
}

func TestParseMemorySizeReadsCRIOsUnits(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"12MiB", 12 << 20}, {"500KiB", 500 << 10}, {"500kib", 500 << 10}, {"1g", 1 << 30},
		{"1GB", 1 << 30}, {"1Gi", 1 << 30}, {"4096", 4096}, {"4096b", 4096}, {"1.5k", 1536}, {"2 m", 2 << 20},
	} {
		got, err := ParseMemorySize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseMemorySize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "12 MiBs", "-1", "twelve", "12x", "1e3"} {
		if _, err := ParseMemorySize(bad); err == nil {
			t.Errorf("ParseMemorySize(%q) succeeded; want an error", bad)
		}
	}
	if got := (RuntimeHandler{}).MinMemory(); got != 12<<20 {
		t.Errorf("an empty container_min_memory is %d bytes, want 12MiB", got)
	}
}

func TestRuntimeKeysRefusedAtLoadNameTheKey(t *testing.T) {
	for _, c := range []struct{ conf, key string }{
		{"[crio.runtime.runtimes.runc]\ncontainer_min_memory = \"lots\"", "crio.runtime.runtimes.runc.container_min_memory"},
		{"[crio.runtime]\nadditional_devices = [\"dev/null\"]", "crio.runtime.additional_devices"},
		{"[crio.runtime]\nadditional_devices = [\"/dev/null:/tmp/null\"]", "crio.runtime.additional_devices"},
		{"[crio.runtime]\nadditional_devices = [\"/dev/null:/dev/null:rwx\"]", "crio.runtime.additional_devices"},
		{"[crio.runtime]\nallowed_devices = [\"fuse\"]", "crio.runtime.allowed_devices"},
	} {
		f := write(t, filepath.Join(t.TempDir(), "c.conf"), c.conf+"\n")
		if _, err := Load(f, "", true, false); err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%q: err = %v, want one naming %s", c.conf, err, c.key)
		}
	}
}

func TestParseDeviceAsCRIO(t *testing.T) {
	for _, c := range []struct{ in, src, dst, perms string }{
		{"/dev/fuse", "/dev/fuse", "/dev/fuse", "rwm"},
		{"/dev/fuse:rw", "/dev/fuse", "/dev/fuse", "rw"},
		{"/dev/fuse:/dev/f", "/dev/fuse", "/dev/f", "rwm"},
		{"/dev/fuse:/dev/f:r", "/dev/fuse", "/dev/f", "r"},
		{"/dev/fuse::mr", "/dev/fuse", "/dev/fuse", "mr"},
	} {
		src, dst, perms, err := ParseDevice(c.in)
		if err != nil || src != c.src || dst != c.dst || perms != c.perms {
			t.Errorf("ParseDevice(%q) = %q %q %q %v; want %q %q %q", c.in, src, dst, perms, err, c.src, c.dst, c.perms)
		}
	}
	for _, bad := range []string{"", "fuse", "/dev/fuse:/tmp/f", "/dev/fuse:/dev/../etc/x", "/dev/fuse:/dev/f:rwx", "/dev/fuse:/dev/f:rr", "/dev/a:/dev/b:r:w", "/dev/fuse:f"} {
		if _, _, _, err := ParseDevice(bad); err == nil {
			t.Errorf("ParseDevice(%q) succeeded; want an error", bad)
		}
	}
}

func TestDevicesAnnotationHonouredOnlyWhereAllowed(t *testing.T) {
	r := RuntimeConfig{
		Runtimes: map[string]RuntimeHandler{
			"open":   {AllowedAnnotations: []string{DevicesAnnotationV1}},
			"closed": {},
		},
		Workloads: map[string]WorkloadConfig{
			"w": {ActivationAnnotation: "io.example/workload", AllowedAnnotations: []string{DevicesAnnotation}},
		},
	}
	keys := []string{DevicesAnnotation, DevicesAnnotationV1}
	pod := map[string]string{DevicesAnnotationV1: "/dev/fuse"}
	if v, k, ok := AnnotationValue(pod, r.AllowedAnnotations("open", pod), keys...); !ok || v != "/dev/fuse" || k != DevicesAnnotationV1 {
		t.Errorf("allowing handler: %q %q %v; want the V1 annotation's value", v, k, ok)
	}
	if _, _, ok := AnnotationValue(pod, r.AllowedAnnotations("closed", pod), keys...); ok {
		t.Error("a handler that does not allow the annotation honours it")
	}
	// The current name is allowed only by the workload, active when the
	// pod carries its activation annotation.
	pod = map[string]string{DevicesAnnotation: "/dev/net/tun", DevicesAnnotationV1: "/dev/fuse"}
	if v, _, _ := AnnotationValue(pod, r.AllowedAnnotations("open", pod), keys...); v != "/dev/fuse" {
		t.Errorf("the current name, not allowed, was used: %q", v)
	}
	pod["io.example/workload"] = ""
	if v, k, _ := AnnotationValue(pod, r.AllowedAnnotations("closed", pod), keys...); v != "/dev/net/tun" || k != DevicesAnnotation {
		t.Errorf("with the workload active: %q %q; want the current name's value", v, k)
	}
}

func TestMalformedDefaultMountsFileIsRefusedAtLoad(t *testing.T) {
	dir := t.TempDir()
	mc := write(t, filepath.Join(dir, "mounts.conf"), "# ok\n/usr/share:/usr/share\nno-slash\n")
	f := write(t, filepath.Join(dir, "c.conf"), "[crio.runtime]\ndefault_mounts_file = \""+mc+"\"\n")
	if _, err := Load(f, "", true, false); err == nil || !strings.Contains(err.Error(), "crio.runtime.default_mounts_file") || !strings.Contains(err.Error(), mc+":3") {
		t.Errorf("err = %v; want a refusal naming the key and %s:3", err, mc)
	}
	write(t, mc, "/usr/share:/usr/share\n/etc/hostname\n")
	l, err := Load(f, "", true, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadMountsConf(MountsFile(l.Runtime.DefaultMountsFile))
	if err != nil || len(got) != 2 || got[1] != (DefaultMount{"/etc/hostname", "/etc/hostname"}) {
		t.Errorf("mounts = %+v, %v", got, err)
	}
	write(t, f, "[crio.runtime]\ndefault_mounts_file = \""+filepath.Join(dir, "absent.conf")+"\"\n")
	if _, err := Load(f, "", true, false); err != nil {
		t.Errorf("a default_mounts_file that does not exist: %v; want no error", err)
	}
}
