package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

const busybox = "registry.k8s.io/e2e-test-images/busybox:1.29-2"

func running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestKubeletRunsStaticPodWithTwoContainers(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	n.WriteManifest("two.yaml", `apiVersion: v1
kind: Pod
metadata: {name: two, namespace: default}
spec:
  containers:
  - name: a
    image: `+busybox+`
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
    resources: {limits: {memory: 64Mi, cpu: 200m}}
  - name: b
    image: `+busybox+`
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
`)
	p := n.WaitPod("two", 2*time.Minute, "running and ready", running)
	t.Logf("pod %s: %s, %d containers", p.Name, p.Status.Phase, len(p.Status.ContainerStatuses))
	if errs := n.CRIErrors(); len(errs) > 0 {
		t.Errorf("kubelet logged CRI errors:\n%v", errs)
	}
}
