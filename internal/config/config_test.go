package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadMergesFileThenDropInsInLexicalOrder(t *testing.T) {
	dir := t.TempDir()
	main := write(t, filepath.Join(dir, "crio.conf"), `
[crio.runtime]
log_level = "warn"
conmon = "/usr/bin/conmon"
[crio.image]
pause_image = "example.com/pause:1"
pinned_images = ["a", "b"]
`)
	d := filepath.Join(dir, "crio.conf.d")
	write(t, filepath.Join(d, "20-b.conf"), `
[crio.image]
pause_image = "example.com/pause:20"
`)
	write(t, filepath.Join(d, "10-a.conf"), `
[crio.runtime]
log_level = "debug"
[crio.image]
pause_image = "example.com/pause:10"
[crio.runtime.runtimes.kata]
runtime_path = "/usr/bin/kata"
runtime_root = "/run/kata"
`)
	write(t, filepath.Join(d, "30-ignored.txt"), `this is not toml`)

	l, err := Load(main, d, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Image.PauseImage; got != "example.com/pause:20" {
		t.Errorf("pause_image = %q, want the last drop-in's value", got)
	}
	if got := l.Runtime.LogLevel; got != "debug" {
		t.Errorf("log_level = %q, want drop-in 10's value over the main file's", got)
	}
	if got := l.Runtime.Conmon; got != "/usr/bin/conmon" {
		t.Errorf("conmon = %q: a key no drop-in sets must keep the main file's value", got)
	}
	if !reflect.DeepEqual(l.Image.PinnedImages, []string{"a", "b"}) {
		t.Errorf("pinned_images = %v", l.Image.PinnedImages)
	}
	if _, ok := l.Runtime.Runtimes["runc"]; !ok {
		t.Error("default handler runc lost when a drop-in added another handler")
	}
	if h := l.Runtime.Runtimes["kata"]; h.RuntimePath != "/usr/bin/kata" {
		t.Errorf("drop-in handler not merged: %+v", h)
	}
	wantFiles := []string{main, filepath.Join(d, "10-a.conf"), filepath.Join(d, "20-b.conf")}
	if !reflect.DeepEqual(l.Files, wantFiles) {
		t.Errorf("files = %v, want %v", l.Files, wantFiles)
	}
	if got := l.Origin("crio.image.pause_image"); got != filepath.Join(d, "20-b.conf") {
		t.Errorf("origin of pause_image = %q", got)
	}
}

func TestLoadMissingFiles(t *testing.T) {
	dir := t.TempDir()
	l, err := Load(filepath.Join(dir, "none.conf"), filepath.Join(dir, "none.d"), false, false)
	if err != nil {
		t.Fatalf("missing default files must not be an error: %v", err)
	}
	if !reflect.DeepEqual(l.Config, Default()) {
		t.Error("without files the configuration must be the defaults")
	}
	if _, err := Load(filepath.Join(dir, "none.conf"), "", true, false); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an explicitly named missing file must fail, got %v", err)
	}
	if _, err := Load("", filepath.Join(dir, "none.d"), false, true); err == nil {
		t.Error("an explicitly named missing dir must fail")
	}
}

func TestUnknownKeysAreWarnings(t *testing.T) {
	f := write(t, filepath.Join(t.TempDir(), "c.conf"), `
[crio.runtime]
no_such_key = 1
[crio.bogus]
x = "y"
`)
	l, err := Load(f, "", true, false)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(l.Warnings, "\n")
	for _, want := range []string{"crio.runtime.no_such_key", "crio.bogus", f} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q do not mention %q", joined, want)
		}
	}
}

func TestWrongTypeNamesFileAndKey(t *testing.T) {
	f := write(t, filepath.Join(t.TempDir(), "bad.conf"), "[crio.api]\nlisten = 42\n")
	_, err := Load(f, "", true, false)
	if err == nil {
		t.Fatal("a number for a path must be an error")
	}
	for _, want := range []string{f, "listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestSyntaxErrorNamesFile(t *testing.T) {
	f := write(t, filepath.Join(t.TempDir(), "broken.conf"), "[crio\nroot = \n")
	_, err := Load(f, "", true, false)
	if err == nil || !strings.Contains(err.Error(), f) {
		t.Fatalf("want an error naming %s, got %v", f, err)
	}
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name, toml, key string
	}{
		{"relative root", "[crio]\nroot = \"var/lib\"", "crio.root"},
		{"empty runroot", "[crio]\nrunroot = \"\"", "crio.runroot"},
		{"storage driver", "[crio]\nstorage_driver = \"zfs\"", "crio.storage_driver"},
		{"relative listen", "[crio.api]\nlisten = \"crio.sock\"", "crio.api.listen"},
		{"stream address", "[crio.api]\nstream_address = \"not-an-ip\"", "crio.api.stream_address"},
		{"stream port", "[crio.api]\nstream_port = \"70000\"", "crio.api.stream_port"},
		{"tls without cert", "[crio.api]\nstream_enable_tls = true", "crio.api.stream_enable_tls"},
		{"bad duration", "[crio.api]\nstream_idle_timeout = \"forever\"", "stream_idle_timeout"},
		{"unknown default runtime", "[crio.runtime]\ndefault_runtime = \"kata\"", "crio.runtime.default_runtime"},
		{"runtime type", "[crio.runtime.runtimes.runc]\nruntime_type = \"vm\"", "crio.runtime.runtimes.runc.runtime_type"},
		{"relative runtime path", "[crio.runtime.runtimes.runc]\nruntime_path = \"runc\"", "crio.runtime.runtimes.runc.runtime_path"},
		{"monitor cgroup", "[crio.runtime.runtimes.runc]\nmonitor_cgroup = \"weird\"", "crio.runtime.runtimes.runc.monitor_cgroup"},
		{"cgroup manager", "[crio.runtime]\ncgroup_manager = \"cgroupv3\"", "crio.runtime.cgroup_manager"},
		{"capability", "[crio.runtime]\ndefault_capabilities = [\"CHOWN\", \"FLY\"]", "crio.runtime.default_capabilities"},
		{"sysctl", "[crio.runtime]\ndefault_sysctls = [\"net.ipv4.ip_forward\"]", "crio.runtime.default_sysctls"},
		{"ulimit", "[crio.runtime]\ndefault_ulimits = [\"nofile=lots\"]", "crio.runtime.default_ulimits"},
		{"env", "[crio.runtime]\ndefault_env = [\"NOEQUALS\"]", "crio.runtime.default_env"},
		{"log level", "[crio.runtime]\nlog_level = \"loud\"", "crio.runtime.log_level"},
		{"log format", "[crio.runtime]\nlog_format = \"xml\"", "crio.runtime.log_format"},
		{"stop timeout", "[crio.runtime]\nctr_stop_timeout = -1", "crio.runtime.ctr_stop_timeout"},
		{"log size", "[crio.runtime]\nlog_size_max = 100", "crio.runtime.log_size_max"},
		{"cdi dir", "[crio.runtime]\ncdi_spec_dirs = [\"etc/cdi\"]", "crio.runtime.cdi_spec_dirs"},
		{"exits dir", "[crio.runtime]\ncontainer_exits_dir = \"exits\"", "crio.runtime.container_exits_dir"},
		{"pause image", "[crio.image]\npause_image = \"\"", "crio.image.pause_image"},
		{"image volumes", "[crio.image]\nimage_volumes = \"copy\"", "crio.image.image_volumes"},
		{"short names", "[crio.image]\nshort_name_mode = \"guess\"", "crio.image.short_name_mode"},
		{"parallel downloads", "[crio.image]\nmax_parallel_downloads = -1", "crio.image.max_parallel_downloads"},
		{"pinned pattern", "[crio.image]\npinned_images = [\"a*b*\"]", "crio.image.pinned_images"},
		{"network dir", "[crio.network]\nnetwork_dir = \"net.d\"", "crio.network.network_dir"},
		{"plugin dirs", "[crio.network]\nplugin_dirs = []", "crio.network.plugin_dirs"},
		{"metrics port", "[crio.metrics]\nmetrics_port = 99999", "crio.metrics.metrics_port"},
		{"metrics collector", "[crio.metrics]\nmetrics_collectors = [\"crio_operations_total\", \"crio_flux\"]", "crio_flux"},
		{"stats period", "[crio.stats]\nstats_collection_period = -1", "crio.stats.stats_collection_period"},
		{"metric group", "[crio.stats]\nincluded_pod_metrics = [\"cpu\", \"gpu\"]", "crio.stats.included_pod_metrics"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := write(t, filepath.Join(t.TempDir(), "c.conf"), tc.toml+"\n")
			_, err := Load(f, "", true, false)
			if err == nil {
				t.Fatalf("%s: want a validation error", tc.toml)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.key) {
				t.Errorf("error %q does not name key %q", msg, tc.key)
			}
			if !strings.Contains(msg, f) {
				t.Errorf("error %q does not name file %q", msg, f)
			}
		})
	}
}

func TestMetricsCollectorsTakeCRIONamesWithOrWithoutPrefix(t *testing.T) {
	f := write(t, filepath.Join(t.TempDir(), "c.conf"),
		"[crio.metrics]\nmetrics_collectors = [\"crio_operations_total\", \"container_runtime_crio_image_pulls_bytes_total\", \"processes_defunct\", \"operations_in_flight\"]\n")
	if _, err := Load(f, "", true, false); err != nil {
		t.Fatalf("CRI-O and crio collector names refused: %v", err)
	}
}

func TestDefaultsAreValid(t *testing.T) {
	if errs := validate(Default()); len(errs) != 0 {
		t.Fatalf("defaults do not validate: %v", errs)
	}
}

func TestWriteTOMLRoundTrips(t *testing.T) {
	c := Default()
	c.Image.PinnedImages = []string{"registry.k8s.io/pause*", `quote"and\backslash`}
	c.Runtime.DefaultEnv = []string{"A=b\tc"}
	c.Runtime.Runtimes["kata"] = RuntimeHandler{RuntimePath: "/usr/bin/kata", PlatformRuntimePaths: map[string]string{"linux/amd64": "/x"}}
	c.API.StreamIdleTimeout = Duration(90 * time.Second)
	c.NRI.Enabled = false
	first := c.String()

	f := write(t, filepath.Join(t.TempDir(), "c.conf"), first)
	l, err := Load(f, "", true, false)
	if err != nil {
		t.Fatalf("generated TOML does not load: %v", err)
	}
	if len(l.Warnings) != 0 {
		t.Errorf("generated TOML has unknown keys: %v", l.Warnings)
	}
	if second := l.Config.String(); second != first {
		t.Errorf("TOML changed on a round trip:\n%s", lineDiff(first, second))
	}
	if l.Image.PinnedImages[1] != `quote"and\backslash` || l.API.StreamIdleTimeout != Duration(90*time.Second) || l.NRI.Enabled {
		t.Errorf("values changed on a round trip: %+v %+v", l.Image, l.API)
	}
}

func TestExampleMatchesDefaults(t *testing.T) {
	want := Default().String()
	got, err := os.ReadFile(filepath.Join("..", "..", "crio.conf.example"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("crio.conf.example drifted from the code's defaults; run `make crio.conf.example`:\n%s", lineDiff(string(got), want))
	}
}

func TestApplyReloadTakesOnlyReloadableKeys(t *testing.T) {
	cur := Default()
	next := Default()
	next.Runtime.LogLevel = "debug"
	next.Image.PauseImage = "example.com/pause:2"
	next.Image.PinnedImages = []string{"x*"}
	next.Runtime.SeccompProfile = "/etc/seccomp.json"
	next.API.Listen = "/run/other.sock"

	out, changes, restart := ApplyReload(cur, next)
	if out.Runtime.LogLevel != "debug" || out.Image.PauseImage != "example.com/pause:2" ||
		!reflect.DeepEqual(out.Image.PinnedImages, []string{"x*"}) || out.Runtime.SeccompProfile != "/etc/seccomp.json" {
		t.Errorf("reloadable keys not applied: %+v", out)
	}
	if out.API.Listen != cur.API.Listen {
		t.Error("listen must not change on reload")
	}
	if len(changes) != 4 {
		t.Errorf("changes = %v, want 4", changes)
	}
	if !reflect.DeepEqual(restart, []string{"crio.api.listen"}) {
		t.Errorf("restart-needed keys = %v", restart)
	}
	if cur.Runtime.LogLevel != "info" {
		t.Error("ApplyReload modified its input")
	}
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
			if len(out) > 20 {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func TestTimezoneMustBeAZoneinfoFileOfTheHost(t *testing.T) {
	for tz, ok := range map[string]bool{"": true, "Local": true, "Etc/UTC": true, "Nowhere/Atlantis": false, "../../etc/passwd": false, "/etc/passwd": false} {
		c := Default()
		c.Runtime.Timezone = tz
		errs := validate(c)
		if ok != (len(errs) == 0) {
			t.Errorf("timezone %q: errors %v; want ok=%v", tz, errs, ok)
		}
	}
	if got := ZoneinfoPath("Etc/UTC"); got != "/usr/share/zoneinfo/Etc/UTC" {
		t.Errorf("ZoneinfoPath(Etc/UTC) = %s", got)
	}
}
