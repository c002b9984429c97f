package e2e

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/test/framework"
)

func execSync(t *testing.T, e *execEnv, id string, timeout int64, cmd ...string) (*runtimeapi.ExecSyncResponse, error) {
	t.Helper()
	return e.d.Runtime.ExecSync(framework.Ctx(t), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: timeout})
}

func TestExecSync(t *testing.T) {
	e := newExecEnv(t)
	id := e.container(t, []string{"sleep", "3600"})

	t.Run("OutputAndExitCode", func(t *testing.T) {
		r, err := execSync(t, e, id, 0, "sh", "-c", "echo out; echo err >&2; exit 7")
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Stdout) != "out\n" || string(r.Stderr) != "err\n" || r.ExitCode != 7 {
			t.Errorf("stdout %q stderr %q exit %d; want out, err, 7", r.Stdout, r.Stderr, r.ExitCode)
		}
		// By ID prefix, as crictl allows.
		r, err = execSync(t, e, id[:12], 0, "cat", "/proc/1/cmdline")
		if err != nil || !strings.HasPrefix(string(r.Stdout), "sleep\x003600") {
			t.Errorf("pid 1 by ID prefix: %q, %v; want the container's sleep", r.GetStdout(), err)
		}
	})

	t.Run("TimeoutKillsCommand", func(t *testing.T) {
		begin := time.Now()
		_, err := execSync(t, e, id, 1, "sleep", "10")
		took := time.Since(begin)
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("err = %v; want DeadlineExceeded", err)
		}
		if took > 4*time.Second {
			t.Errorf("ExecSync with a 1s timeout returned after %v", took)
		}
		t.Logf("1s timeout returned after %v", took)
		// Gone, not even a zombie: runc lives to reap it (pid 1 here is a
		// sleep that reaps nothing), as critest checks with pgrep.
		ps := func() string {
			r, err := execSync(t, e, id, 0, "ps", "-o", "pid,args")
			if err != nil {
				t.Fatal(err)
			}
			return string(r.Stdout)
		}
		if out := ps(); strings.Contains(out, "sleep 10") || strings.Contains(out, "[sleep]") {
			t.Errorf("sleep 10 left after the timeout:\n%s", out)
		}
		// A shell's children go with it (dead; a zombie is pid 1's to reap).
		if _, err := execSync(t, e, id, 1, "sh", "-c", "sleep 10; echo never"); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("sh -c: err = %v; want DeadlineExceeded", err)
		}
		if out := ps(); strings.Contains(out, "sleep 10") {
			t.Errorf("sleep 10 still runs after the shell's timeout:\n%s", out)
		}
	})

	// In a pod-wide PID namespace, whose init is the pod's infra process,
	// as in critest's "execSync with timeout".
	t.Run("TimeoutInPodPIDNamespaceLeavesNoSleep", func(t *testing.T) {
		pc := podConfig("execpidns", podPID)
		pc.LogDirectory = filepath.Join(e.d.Dir, "podlogs-pidns")
		podID := runPod(t, e.d, pc)
		ctx := framework.Ctx(t)
		cr, err := e.d.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, SandboxConfig: pc,
			Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: "top"}, Image: &runtimeapi.ImageSpec{Image: e.image},
				Command: []string{"top"}, LogPath: "top.log",
				Linux: &runtimeapi.LinuxContainerConfig{SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
					NamespaceOptions: &runtimeapi.NamespaceOption{Pid: runtimeapi.NamespaceMode_POD}}},
			}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.d.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: cr.ContainerId}); err != nil {
			t.Fatal(err)
		}
		if _, err := execSync(t, e, cr.ContainerId, 1, "sleep", "4321"); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("err = %v; want DeadlineExceeded", err)
		}
		r, err := execSync(t, e, cr.ContainerId, 10, "ps", "-o", "pid,args")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(r.Stdout), "sleep") {
			t.Errorf("sleep left in the pod after the timeout:\n%s", r.Stdout)
		}
	})

	t.Run("OutputCappedAndDaemonMemoryBounded", func(t *testing.T) {
		pid := e.d.PID()
		before := procStatusKB(t, pid, "VmHWM")
		r, err := execSync(t, e, id, 0, "sh", "-c", "head -c 104857600 /dev/zero; echo done >&2")
		if err != nil {
			t.Fatal(err)
		}
		const capped = 16 << 20
		if len(r.Stdout) != capped || string(r.Stderr) != "done\n" || r.ExitCode != 0 {
			t.Errorf("stdout %d bytes, stderr %q, exit %d; want %d bytes, done, 0", len(r.Stdout), r.Stderr, r.ExitCode, capped)
		}
		after := procStatusKB(t, pid, "VmHWM")
		t.Logf("daemon peak RSS %d MiB before, %d MiB after 100 MiB of output", before>>10, after>>10)
		// The kept 16 MiB, its gRPC encoding and slack; not the 100 MiB.
		if grew := (after - before) >> 10; grew > 64 {
			t.Errorf("daemon peak RSS grew by %d MiB for a 16 MiB-capped exec", grew)
		}
	})

	t.Run("ConcurrentOnOneContainer", func(t *testing.T) {
		errs := make(chan error, 10)
		for i := range 10 {
			go func() {
				r, err := execSync(t, e, id, 30, "sh", "-c", fmt.Sprintf("echo %d; exit %d", i, i))
				switch {
				case err != nil:
					errs <- err
				case string(r.Stdout) != fmt.Sprintf("%d\n", i) || r.ExitCode != int32(i):
					errs <- fmt.Errorf("exec %d: stdout %q exit %d", i, r.Stdout, r.ExitCode)
				default:
					errs <- nil
				}
			}()
		}
		for range 10 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("ManyLeaveNoProcessesOrFDs", func(t *testing.T) {
		pid := e.d.PID()
		execSync(t, e, id, 10, "true")
		fds, kids := countDir(t, fmt.Sprintf("/proc/%d/fd", pid)), childProcesses(t, pid)
		begin := time.Now()
		for i := range 200 {
			r, err := execSync(t, e, id, 10, "echo", "probe")
			if err != nil || string(r.Stdout) != "probe\n" {
				t.Fatalf("exec %d: %q, %v", i, r.GetStdout(), err)
			}
		}
		t.Logf("200 ExecSyncs took %v (%v each)", time.Since(begin), time.Since(begin)/200)
		// Let the HTTP/2 and runtime goroutines settle.
		time.Sleep(200 * time.Millisecond)
		if n := settled(func() int { return countDir(t, fmt.Sprintf("/proc/%d/fd", pid)) }, fds); n > fds {
			t.Errorf("daemon fds went from %d to %d over 200 ExecSyncs", fds, n)
		}
		if n := settled(func() int { return childProcesses(t, pid) }, kids); n > kids {
			t.Errorf("daemon children went from %d to %d over 200 ExecSyncs", kids, n)
		}
		r, err := execSync(t, e, id, 10, "ps", "-o", "pid,args")
		if err != nil {
			t.Fatal(err)
		}
		// sleep 3600 (pid 1), the ps itself and its header. The timeout
		// subtest's killed sleep may stay a zombie ("[sleep]"): pid 1 is
		// a plain sleep that reaps nothing.
		var live []string
		for _, l := range strings.Split(strings.TrimSpace(string(r.Stdout)), "\n") {
			if !strings.Contains(l, "[") {
				live = append(live, l)
			}
		}
		if len(live) != 3 {
			t.Errorf("processes left in the container:\n%s", r.Stdout)
		}
	})

	t.Run("ProbesOnManyContainersLeaveNothing", func(t *testing.T) {
		ids := []string{id}
		for range 4 {
			ids = append(ids, e.container(t, []string{"sleep", "3600"}))
		}
		pid := e.d.PID()
		fds, kids := countDir(t, fmt.Sprintf("/proc/%d/fd", pid)), childProcesses(t, pid)
		// Ten probe rounds, every container probed at once in each, some
		// timing out as a hung probe would.
		for round := range 10 {
			errs := make(chan error, len(ids))
			for i, cid := range ids {
				go func() {
					cmd, timeout := []string{"sh", "-c", "echo ok"}, int64(10)
					if (round+i)%4 == 0 {
						cmd, timeout = []string{"sleep", "30"}, 1
					}
					r, err := execSync(t, e, cid, timeout, cmd...)
					switch {
					case timeout == 1 && status.Code(err) == codes.DeadlineExceeded:
						errs <- nil
					case err != nil:
						errs <- err
					case string(r.Stdout) != "ok\n":
						errs <- fmt.Errorf("probe of %s: %q", cid, r.Stdout)
					default:
						errs <- nil
					}
				}()
			}
			for range ids {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
		if n := settled(func() int { return countDir(t, fmt.Sprintf("/proc/%d/fd", pid)) }, fds); n > fds {
			t.Errorf("daemon fds went from %d to %d over the probes", fds, n)
		}
		if n := settled(func() int { return childProcesses(t, pid) }, kids); n > kids {
			t.Errorf("daemon children went from %d to %d over the probes", kids, n)
		}
		for _, cid := range ids {
			r, err := execSync(t, e, cid, 10, "ps", "-o", "pid,args")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(r.Stdout), "sleep 30") || strings.Contains(string(r.Stdout), "echo ok") {
				t.Errorf("probe processes left in %s:\n%s", cid, r.Stdout)
			}
		}
	})

	t.Run("Errors", func(t *testing.T) {
		_, err := execSync(t, e, strings.Repeat("f", 64), 0, "true")
		if status.Code(err) != codes.NotFound {
			t.Errorf("unknown container: %v; want NotFound", err)
		}
		_, err = execSync(t, e, id, 0)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("empty command: %v; want InvalidArgument", err)
		}
		done := e.container(t, []string{"true"})
		e.waitExited(t, done)
		_, err = execSync(t, e, done, 0, "true")
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("exited container: %v; want FailedPrecondition", err)
		}
		_, err = e.d.Runtime.Exec(framework.Ctx(t), &runtimeapi.ExecRequest{ContainerId: done, Cmd: []string{"true"}, Stdout: true})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("Exec in an exited container: %v; want FailedPrecondition", err)
		}
		_, err = e.d.Runtime.Attach(framework.Ctx(t), &runtimeapi.AttachRequest{ContainerId: strings.Repeat("e", 64), Stdout: true})
		if status.Code(err) != codes.NotFound {
			t.Errorf("Attach to an unknown container: %v; want NotFound", err)
		}
	})
}

func TestCrictlExec(t *testing.T) {
	e := newExecEnv(t)
	id := e.container(t, []string{"sleep", "3600"})

	t.Run("Sync", func(t *testing.T) {
		out, err := e.crictlCmd(t, "exec", "-s", id, "sh", "-c", "echo via-crictl; exit 0").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "via-crictl" {
			t.Errorf("crictl exec -s: %q, %v", out, err)
		}
		// crictl folds the command's exit code into its own 1.
		out, err = e.crictlCmd(t, "exec", "-s", id, "sh", "-c", "exit 3").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "exited with 3") {
			t.Errorf("crictl exec -s of exit 3: %q, %v; want a non-zero exit code", out, err)
		}
	})

	t.Run("StreamingWithoutTTY", func(t *testing.T) {
		cmd := e.crictlCmd(t, "exec", "-i", id, "sh", "-c", "read l; echo got-$l; echo to-stderr >&2; exit 5")
		cmd.Stdin = strings.NewReader("line\n")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		// The exit code reaches crictl in the stream's status.
		if stdout.String() != "got-line\n" || !strings.Contains(stderr.String(), "to-stderr") || !strings.Contains(stderr.String(), "exit code 5") {
			t.Errorf("crictl exec -i: stdout %q stderr %q; want got-line, to-stderr, exit code 5", stdout.String(), stderr.String())
		}
	})

	t.Run("InteractiveTTYWithResize", func(t *testing.T) {
		p := startPTY(t, e.crictlCmd(t, "exec", "-it", id, "sh"), 30, 90)
		p.send(t, "stty size; echo sum=$((6*7))\n")
		p.expect(t, "sum=42")
		// The first size travels on the resize stream beside stdin, so a
		// shell quick off the mark may still see 0x0 (stty then fails).
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(p.output(), "30 90") && time.Now().Before(deadline) {
			p.send(t, "stty size\n")
			time.Sleep(300 * time.Millisecond)
		}
		p.expect(t, "30 90")
		if err := pty.Setsize(p.tty, &pty.Winsize{Rows: 44, Cols: 120}); err != nil {
			t.Fatal(err)
		}
		// crictl sends the new size when its terminal signals SIGWINCH.
		deadline = time.Now().Add(10 * time.Second)
		for !strings.Contains(p.output(), "44 120") && time.Now().Before(deadline) {
			p.send(t, "stty size\n")
			time.Sleep(300 * time.Millisecond)
		}
		p.expect(t, "44 120")
		p.send(t, "exit 4\n")
		p.wait(t)
		p.expect(t, "exit code 4")
	})
}

func TestCrictlAttach(t *testing.T) {
	e := newExecEnv(t)
	id := e.container(t, []string{"sh"}, func(c *runtimeapi.ContainerConfig) {
		c.Stdin, c.Tty = true, true
	})
	p := startPTY(t, e.crictlCmd(t, "attach", "-it", id), 25, 80)
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.output(), "attached-2") && time.Now().Before(deadline) {
		p.send(t, "echo attached-$((1+1))\n")
		time.Sleep(300 * time.Millisecond)
	}
	p.expect(t, "attached-2")
	p.send(t, "stty size\n")
	p.expect(t, "25 80")
	// Exiting the shell ends the container and the attach session.
	p.send(t, "exit\n")
	p.wait(t)
	e.waitExited(t, id)
}

func TestAttachStdinOnce(t *testing.T) {
	e := newExecEnv(t)
	id := e.container(t, []string{"sh", "-c", "while read l; do echo got-$l; done; echo stdin-closed; sleep 1"}, func(c *runtimeapi.ContainerConfig) {
		c.Stdin, c.StdinOnce = true, true
	})
	cmd := e.crictlCmd(t, "attach", "-i", id)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Lines written before the attach is established reach the container
	// anyway: conmon holds its stdin.
	io.WriteString(in, "one\n")
	time.Sleep(time.Second)
	io.WriteString(in, "two\n")
	in.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("crictl attach did not end after stdin closed; output %q", out.String())
	}
	if !strings.Contains(out.String(), "got-two") || !strings.Contains(out.String(), "stdin-closed") {
		t.Errorf("attach output %q; want got-two and stdin-closed (stdin_once closes stdin)", out.String())
	}
	e.waitExited(t, id)
}

func TestPortForward(t *testing.T) {
	e := newExecEnv(t)
	e.container(t, []string{"sh", "-c", "mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www"})
	// Wait for httpd inside the pod.
	_, info := podStatus(t, e.d, e.pod)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := inNetns(info.NetNS, func() error {
			c, err := net.Dial("tcp", "127.0.0.1:8080")
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("httpd never listened in the pod: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Run("SPDY", func(t *testing.T) {
		resp, err := e.d.Runtime.PortForward(framework.Ctx(t), &runtimeapi.PortForwardRequest{PodSandboxId: e.pod, Port: []int32{8080}})
		if err != nil {
			t.Fatal(err)
		}
		data, errs := spdyPortForward(t, resp.Url, 8080)
		io.WriteString(data, "GET /index.html HTTP/1.0\r\n\r\n")
		data.Close()
		body, err := io.ReadAll(data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "200 OK") || !strings.Contains(string(body), "hello-from-pod") {
			t.Errorf("answer through port-forward: %q", body)
		}
		if msg := <-errs; msg != "" {
			t.Errorf("error stream: %s", msg)
		}
	})

	t.Run("Crictl", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		local := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := e.crictlCmd(t, "port-forward", e.pod, fmt.Sprintf("%d:8080", local))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		var body string
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local))
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			io.WriteString(c, "GET /index.html HTTP/1.0\r\n\r\n")
			b, _ := io.ReadAll(c)
			c.Close()
			body = string(b)
			break
		}
		if !strings.Contains(body, "hello-from-pod") {
			t.Errorf("answer through crictl port-forward: %q; crictl said %q", body, out.String())
		}
	})

	t.Run("UnknownPod", func(t *testing.T) {
		_, err := e.d.Runtime.PortForward(framework.Ctx(t), &runtimeapi.PortForwardRequest{PodSandboxId: strings.Repeat("d", 64), Port: []int32{80}})
		if status.Code(err) != codes.NotFound {
			t.Errorf("PortForward to an unknown pod: %v; want NotFound", err)
		}
	})
}
