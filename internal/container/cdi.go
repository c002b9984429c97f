package container

import (
	"fmt"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"tags.cncf.io/container-device-interface/pkg/cdi"
)

// injectCDIDevices applies the CDI devices a container asks for (the
// CRI's cdi_devices and the cdi.k8s.io/ annotations) to spec, from the
// CDI specifications in dirs, read afresh so that a vendor's new spec
// counts without a restart.
func injectCDIDevices(spec *rspec.Spec, cfg *runtimeapi.ContainerConfig, dirs []string) error {
	var names []string
	for _, d := range cfg.GetCDIDevices() {
		names = append(names, d.GetName())
	}
	_, annotated, err := cdi.ParseAnnotations(cfg.GetAnnotations())
	if err != nil {
		return fmt.Errorf("%w: CDI annotations: %v", ErrInvalid, err)
	}
	names = append(names, annotated...)
	return injectCDINames(spec, names, dirs)
}

// injectCDINames injects CDI devices by fully qualified name.
func injectCDINames(spec *rspec.Spec, names []string, dirs []string) error {
	if len(names) == 0 {
		return nil
	}
	cache, err := cdi.NewCache(cdi.WithSpecDirs(dirs...), cdi.WithAutoRefresh(false))
	if err != nil {
		return fmt.Errorf("reading CDI specs: %w", err)
	}
	if unresolved, err := cache.InjectDevices(spec, names...); err != nil {
		if len(unresolved) > 0 {
			return fmt.Errorf("%w: unknown CDI devices %v (spec dirs %v): %v", ErrInvalid, unresolved, dirs, err)
		}
		return fmt.Errorf("%w: injecting CDI devices: %v", ErrInvalid, err)
	}
	return nil
}
