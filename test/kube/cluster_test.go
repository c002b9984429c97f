package kube

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// kubectlOK runs kubectl and fails the test when it fails.
func kubectlOK(t *testing.T, cp *ControlPlane, args ...string) string {
	t.Helper()
	out, err := cp.Kubectl(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// TestClusterWorkloads registers a kubelet on this runtime with a real
// control plane on loopback and drives it with kubectl the way a user does:
// a Deployment scaled 3 -> 30 -> 0, exec, logs -f, attach, port-forward and
// cp through the API server, the kubelet and this runtime's streaming
// server, and a Job run to completion.
func TestClusterWorkloads(t *testing.T) {
	cp := StartControlPlane(t)
	n := StartNode(t, NodeOptions{NodeName: "crio-node", ControlPlane: cp})
	// kubectl wait answers NotFound until the kubelet has registered.
	cp.waitUntil(time.Now(), "node crio-node has registered", func() error {
		_, err := cp.Kubectl("get", "node", "crio-node")
		return err
	})
	kubectlOK(t, cp, "wait", "--for=condition=Ready", "node/crio-node", "--timeout=2m")

	t.Run("deployment scales 3, 30, 0", func(t *testing.T) {
		kubectlOK(t, cp, "create", "deployment", "sleepers", "--image="+busybox, "--replicas=3", "--", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done")
		kubectlOK(t, cp, "rollout", "status", "deployment/sleepers", "--timeout=3m")
		for _, replicas := range []string{"30", "0"} {
			kubectlOK(t, cp, "scale", "deployment/sleepers", "--replicas="+replicas)
			kubectlOK(t, cp, "rollout", "status", "deployment/sleepers", "--timeout=5m")
			start := time.Now()
			for {
				out := kubectlOK(t, cp, "get", "pods", "-l", "app=sleepers", "--field-selector=status.phase=Running", "-o", "name")
				if got := len(strings.Fields(out)); fmt.Sprint(got) == replicas {
					break
				}
				if time.Since(start) > 3*time.Minute {
					t.Fatalf("deployment at %s replicas: pods running:\n%s", replicas, out)
				}
				time.Sleep(time.Second)
			}
			t.Logf("%s replicas running %s after the rollout", replicas, time.Since(start).Round(time.Millisecond))
		}
	})

	kubectlOK(t, cp, "run", "tools", "--image="+busybox, "--restart=Never", "--", "sh", "-c", "i=0; trap 'exit 0' TERM; while true; do echo line $i; i=$((i+1)); sleep 0.5; done")
	kubectlOK(t, cp, "run", "talker", "--image="+busybox, "--restart=Never", "-i", "--tty=false", "--attach=false", "--", "sh", "-c", "while read l; do echo got $l; done")
	kubectlOK(t, cp, "run", "web", "--image="+nginx, "--restart=Never", "--port=80")
	for _, p := range []string{"tools", "talker", "web"} {
		kubectlOK(t, cp, "wait", "--for=condition=Ready", "pod/"+p, "--timeout=2m")
	}

	t.Run("exec", func(t *testing.T) {
		if out := kubectlOK(t, cp, "exec", "tools", "--", "sh", "-c", "echo hello from $(hostname)"); strings.TrimSpace(out) != "hello from tools" {
			t.Errorf("exec printed %q", out)
		}
		out, err := cp.Kubectl("exec", "tools", "--", "sh", "-c", "exit 7")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Errorf("exec of exit 7: %v %s; want kubectl to exit 7", err, out)
		}
	})

	t.Run("logs -f", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := cp.KubectlCommand(t.Context(), "logs", "-f", "tools")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		go func() { <-ctx.Done(); _ = cmd.Process.Kill() }()
		sc := bufio.NewScanner(out)
		var first, last int
		for lines := 0; lines < 8 && sc.Scan(); lines++ {
			var i int
			if _, err := fmt.Sscanf(sc.Text(), "line %d", &i); err != nil {
				t.Fatalf("logs -f printed %q", sc.Text())
			}
			if lines == 0 {
				first = i
			}
			last = i
		}
		// Followed, not a snapshot: lines written after kubectl started.
		if last-first != 7 {
			t.Errorf("logs -f: lines %d..%d; want 8 consecutive lines", first, last)
		}
	})

	t.Run("attach", func(t *testing.T) {
		cmd := cp.KubectlCommand(t.Context(), "attach", "-i", "talker")
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		got := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "got ping") {
					got <- sc.Text()
					return
				}
			}
		}()
		// The attach may take a moment to reach the container: say it
		// until it is heard.
		deadline := time.After(30 * time.Second)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-got:
				return
			case <-tick.C:
				fmt.Fprintln(in, "ping")
			case <-deadline:
				t.Fatal("no answer through kubectl attach in 30 s")
			}
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		cmd := cp.KubectlCommand(t.Context(), "port-forward", "pod/web", "0:80")
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 80`)
		sc := bufio.NewScanner(out)
		port := ""
		for port == "" && sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				port = m[1]
			}
		}
		if port == "" {
			t.Fatal("kubectl port-forward did not say which port it forwards")
		}
		go func() { _, _ = io.Copy(io.Discard, out) }()
		for i := 0; i < 3; i++ {
			resp, err := http.Get("http://127.0.0.1:" + port + "/")
			if err != nil {
				t.Fatalf("GET through the forward: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), "Welcome to nginx!") {
				t.Fatalf("GET through the forward: %s %q", resp.Status, b)
			}
		}
	})

	t.Run("cp", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "payload")
		if err := os.WriteFile(src, []byte("copied through the API server\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		kubectlOK(t, cp, "cp", src, "tools:/tmp/payload")
		if out := kubectlOK(t, cp, "exec", "tools", "--", "cat", "/tmp/payload"); out != "copied through the API server\n" {
			t.Errorf("the file in the pod holds %q", out)
		}
		back := filepath.Join(t.TempDir(), "back")
		kubectlOK(t, cp, "cp", "tools:/tmp/payload", back)
		if b, _ := os.ReadFile(back); string(b) != "copied through the API server\n" {
			t.Errorf("copied back %q", b)
		}
	})

	t.Run("job runs to completion", func(t *testing.T) {
		kubectlOK(t, cp, "create", "job", "once", "--image="+busybox, "--", "sh", "-c", "echo done; exit 0")
		kubectlOK(t, cp, "wait", "--for=condition=Complete", "job/once", "--timeout=2m")
		if out := kubectlOK(t, cp, "logs", "job/once"); strings.TrimSpace(out) != "done" {
			t.Errorf("the job's log: %q", out)
		}
	})

	t.Run("deleted pods leave nothing", func(t *testing.T) {
		kubectlOK(t, cp, "delete", "pod", "tools", "talker", "web", "--grace-period=1", "--wait=true", "--timeout=2m")
		kubectlOK(t, cp, "delete", "job", "once", "--wait=true")
		kubectlOK(t, cp, "delete", "deployment", "sleepers", "--wait=true")
		waitFor(t, 2*time.Minute, "no pod left on the node", func() (bool, error) {
			out, err := cp.Kubectl("get", "pods", "-A", "--field-selector=spec.nodeName=crio-node", "-o", "name")
			return err == nil && strings.TrimSpace(out) == "", err
		})
		// The kubelet's GC removes the stopped sandboxes within a minute or two.
		waitFor(t, 3*time.Minute, "the runtime's sandboxes removed", func() (bool, error) {
			resp, err := n.Runtime.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{})
			return err == nil && len(resp.Items) == 0, err
		})
		if leaks := n.Check(); leaks != "" {
			t.Errorf("crio check: %s", leaks)
		}
	})
	noCRIErrors(t, n)
}
