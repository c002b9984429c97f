package sandbox

import (
	"fmt"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ValidateMetadata checks a pod's name, namespace and uid. They travel
// to CNI plugins in CNI_ARGS ("K8S_POD_NAME=...;K8S_POD_NAMESPACE=..."),
// an environment variable: a NUL cannot be passed at all (ADD and DEL
// both fail, leaving the attachment), and ';' or '=' would smuggle extra
// arguments to the plugins. Kubernetes' own names (DNS labels and
// subdomains, a UUID) never hold any of them.
func ValidateMetadata(m *runtimeapi.PodSandboxMetadata) error {
	for _, f := range []struct{ key, v string }{
		{"name", m.GetName()}, {"namespace", m.GetNamespace()}, {"uid", m.GetUid()},
	} {
		if f.v == "" {
			return fmt.Errorf("pod sandbox metadata needs a name, a namespace and a uid (%s is empty)", f.key)
		}
		if i := strings.IndexFunc(f.v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ';' || r == '=' }); i >= 0 {
			return fmt.Errorf("pod sandbox metadata.%s %q holds %q, which cannot be passed to CNI plugins", f.key, f.v, f.v[i])
		}
	}
	return nil
}
