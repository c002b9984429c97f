//go:build tools

// Package tools pins the command-line tools the tests build (crictl, and
// critest, the CRI validation suite), in a module of their own so that
// their dependencies stay out of the daemon's.
package tools

import (
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
	_ "sigs.k8s.io/cri-tools/pkg/benchmark"
	_ "sigs.k8s.io/cri-tools/pkg/validate"
)
