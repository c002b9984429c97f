//go:build tools

// Package tools pins the command-line tools the tests build (crictl), in a
// module of their own so that their dependencies stay out of the daemon's.
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
