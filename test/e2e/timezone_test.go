package e2e

import (
	"strings"
	"testing"
)

func TestTimezoneMountsTheZoneinfoFileAtEtcLocaltime(t *testing.T) {
	e := newExecEnvConfig(t, "[crio.runtime]\ntimezone = \"Asia/Tokyo\"\n")
	id := e.container(t, []string{"sleep", "600"})
	r, err := execSync(t, e, id, 10, "date", "+%Z")
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("date: %v %s %s", err, r.GetStdout(), r.GetStderr())
	}
	if got := strings.TrimSpace(string(r.Stdout)); got != "JST" {
		t.Errorf("the container's timezone is %q, want JST (Asia/Tokyo)", got)
	}
	if r, err := execSync(t, e, id, 10, "sh", "-c", "echo x > /etc/localtime"); err != nil || r.ExitCode == 0 {
		t.Errorf("/etc/localtime is writable in the container (%v)", err)
	}
}
