package procstat

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestStartTimeTellsProcessesApart(t *testing.T) {
	self, err := StartTime(os.Getpid())
	if err != nil || self == 0 {
		t.Fatalf("own start time: %d, %v", self, err)
	}
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	child, err := StartTime(cmd.Process.Pid)
	if err != nil || child < self {
		t.Fatalf("child start time %d (%v), own %d", child, err, self)
	}
	if _, err := StartTime(1 << 30); err == nil {
		t.Error("a pid that does not exist has a start time")
	}
}

func TestStartTimeOfAZombieIsAnError(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Not waited for until the end: once it exits it stays a zombie.
	defer cmd.Wait()
	stat := fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("true did not exit")
		}
	}
	if _, err := StartTime(cmd.Process.Pid); err == nil {
		t.Error("a zombie has a start time")
	}
}
