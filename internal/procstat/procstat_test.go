package procstat

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
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

func TestPIDsAndFieldsSeeThisProcess(t *testing.T) {
	self := os.Getpid()
	found := false
	for _, pid := range PIDs() {
		found = found || pid == self
	}
	if !found {
		t.Errorf("PIDs() lacks this process (%d)", self)
	}
	f, err := Fields(self)
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != "R" && f[0] != "S" {
		t.Errorf("own state %q; want R or S", f[0])
	}
	if want := fmt.Sprint(syscall.Getpgrp()); f[2] != want {
		t.Errorf("own process group %q; want %s", f[2], want)
	}
	if _, err := Fields(-1); err == nil {
		t.Error("Fields of no process succeeded")
	}
}

func TestAliveChecksThePidsStartTime(t *testing.T) {
	self := os.Getpid()
	st, err := StartTime(self)
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(self, st) || !Alive(self, 0) {
		t.Error("this process is not alive with its own start time, or with none")
	}
	if Alive(self, st+1) {
		t.Error("a different start time (a reused pid) reads as alive")
	}
	if Alive(0, 0) || Alive(-1, 0) || Alive(1<<30, 0) {
		t.Error("no process reads as alive")
	}
}
