//go:build tools

// Package kube pins the Kubernetes programs (and etcd) the kubelet and control-plane
// tests build: k8s.io/kubernetes cannot be installed with `go install`
// because its go.mod replaces the staging modules with local paths, so this
// module requires it and replaces each staging module with its published
// release of the same version.
package kube

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
