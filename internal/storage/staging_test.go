package storage

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestPruneStagingLeavesOnlyLockedDirectories(t *testing.T) {
	root := t.TempDir()
	base := filepath.Join(root, "overlay", "staging")
	mk := func(name string, lock bool) string {
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(dir, "dir", "usr"), 0o755); err != nil {
			t.Fatal(err)
		}
		if lock {
			if err := os.WriteFile(filepath.Join(dir, "staging.lock"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	if n, err := pruneStaging(root); n != 0 || err != nil {
		t.Fatalf("no staging directory: %d, %v", n, err)
	}
	leftover := mk("1", true)
	noLock := mk("2", false)
	inUse := mk("3", true)
	// Another process holds the third one's lock, as storage does while it
	// unpacks (an fcntl write lock).
	holder := exec.Command("python3", "-c", `import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
time.sleep(60)`, filepath.Join(inUse, "staging.lock"))
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Skipf("python3 for the lock holder: %v", err)
	}
	defer func() {
		holder.Process.Kill()
		holder.Wait()
	}()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "locked\n" {
		t.Fatalf("lock holder said %q", line)
	}

	n, err := pruneStaging(root)
	if err != nil || n != 2 {
		t.Fatalf("pruneStaging: %d removed, %v; want 2", n, err)
	}
	for _, gone := range []string{leftover, noLock} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(inUse, "dir", "usr")); err != nil {
		t.Errorf("the directory in use was touched: %v", err)
	}
}
