package sandbox

import (
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestValidateMetadata(t *testing.T) {
	ok := func(name, ns, uid string) *runtimeapi.PodSandboxMetadata {
		return &runtimeapi.PodSandboxMetadata{Name: name, Namespace: ns, Uid: uid}
	}
	for _, tc := range []struct {
		m   *runtimeapi.PodSandboxMetadata
		bad bool
	}{
		{ok("web-1.a", "default", "0f6c1e4e-5b7a-4d8e-9a59-2d1f0c8f3b11"), false},
		{ok("", "default", "u"), true},
		{ok("a", "", "u"), true},
		{ok("a", "b", ""), true},
		{ok("a\x00b", "default", "u"), true},
		{ok("a", "default;IP=10.0.0.1", "u"), true},
		{ok("a", "default", "u=1"), true},
		{ok("a\nb", "default", "u"), true},
	} {
		if err := ValidateMetadata(tc.m); (err != nil) != tc.bad {
			t.Errorf("ValidateMetadata(%q) = %v, want error %v", tc.m, err, tc.bad)
		}
	}
}
