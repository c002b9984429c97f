package container

import (
	"fmt"
	"os"
	"slices"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/config"
)

// checkMinMemory refuses a memory limit below the handler's
// container_min_memory, as CRI-O does; 0 is no limit and always allowed.
func checkMinMemory(r *runtimeapi.LinuxContainerResources, handler string, h config.RuntimeHandler) error {
	limit := r.GetMemoryLimitInBytes()
	if least := h.MinMemory(); limit != 0 && limit < least {
		return fmt.Errorf("%w: memory limit %d bytes is below %d bytes, the lowest a container of runtime handler %q may have ([crio.runtime.runtimes.%s] container_min_memory)",
			ErrInvalid, limit, least, handler, handler)
	}
	return nil
}

// annotationDevices returns the devices the pod's devices annotation
// gives its containers, in additional_devices' form: none when the pod's
// handler (or an active workload) does not allow the annotation, which is
// then ignored as CRI-O ignores it. Each must be a device node of the host
// listed in [crio.runtime] allowed_devices.
func annotationDevices(rc *config.RuntimeConfig, handler string, pod map[string]string) ([]string, error) {
	v, key, ok := config.AnnotationValue(pod, rc.AllowedAnnotations(handler, pod), config.DevicesAnnotation, config.DevicesAnnotationV1)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, d := range strings.Split(v, ",") {
		if d == "" {
			continue
		}
		src, dst, perms, err := config.ParseDevice(d)
		if err != nil {
			return nil, fmt.Errorf("%w: pod annotation %s: %v", ErrInvalid, key, err)
		}
		if !slices.Contains(rc.AllowedDevices, src) {
			return nil, fmt.Errorf("%w: pod annotation %s: device %s is not in [crio.runtime] allowed_devices %q", ErrInvalid, key, src, rc.AllowedDevices)
		}
		if fi, err := os.Stat(src); err != nil || fi.Mode()&os.ModeDevice == 0 {
			why := "not a device node"
			if err != nil {
				why = err.Error()
			}
			return nil, fmt.Errorf("%w: pod annotation %s: %s is not a device of the host: %s", ErrInvalid, key, src, why)
		}
		out = append(out, src+":"+dst+":"+perms)
	}
	return out, nil
}

// defaultAnnotations is what the handler's default_annotations put in a
// container's spec: each key with the pod's value, which is the default
// unless the pod set its own (CRI-O copies the pod's annotations, defaults
// included, into its containers' specs; the container's own then win).
func defaultAnnotations(h config.RuntimeHandler, pod map[string]string) map[string]string {
	if len(h.DefaultAnnotations) == 0 {
		return nil
	}
	out := make(map[string]string, len(h.DefaultAnnotations))
	for k, v := range h.DefaultAnnotations {
		if pv, ok := pod[k]; ok {
			v = pv
		}
		out[k] = v
	}
	return out
}
