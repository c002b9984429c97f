package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestResolveUserRefusesAnOverlongPasswdLine: one line over bufio's 64 KiB
// used to make the parser return no users at all, so a user listed after
// it was reported "not found".
func TestResolveUserRefusesAnOverlongPasswdLine(t *testing.T) {
	for _, file := range []string{"passwd", "group"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			files := map[string]string{
				"passwd": "root:x:0:0::/:/bin/sh\nhostile:x:4242:4242::/:/bin/sh\n",
				"group":  "root:x:0:\n",
			}
			files[file] = files[file] + "long:x:1:" + strings.Repeat("x", 1<<20) + "\n"
			for n, c := range files {
				if err := os.WriteFile(filepath.Join(dir, "etc", n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := resolveUser(dir, &runtimeapi.LinuxContainerSecurityContext{}, nil, "hostile")
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "/etc/"+file+" in the image has a line longer than 65536 bytes") {
				t.Fatalf("resolveUser = %v; want ErrInvalid naming the long line of /etc/%s", err, file)
			}
		})
	}
}
