// Command nriplugin is a pre-installed NRI plugin for the e2e tests: the
// daemon starts it from nri_plugin_dir. Its configuration (from
// nri_plugin_config_dir) is lines of key=value: "value" is put into every
// container's environment as PREINSTALLED, and the IDs of the containers
// it is synchronised with are written to "syncfile".
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

type plugin struct{ value, syncFile string }

func (p *plugin) Configure(_ context.Context, config, _, _ string) (api.EventMask, error) {
	for _, line := range strings.Split(config, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "value":
			p.value = v
		case "syncfile":
			p.syncFile = v
		}
	}
	return 0, nil
}

func (p *plugin) Synchronize(_ context.Context, _ []*api.PodSandbox, ctrs []*api.Container) ([]*api.ContainerUpdate, error) {
	var ids []string
	for _, c := range ctrs {
		ids = append(ids, c.GetId()+" "+c.GetName())
	}
	if p.syncFile != "" {
		if err := os.WriteFile(p.syncFile, []byte(strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (p *plugin) CreateContainer(context.Context, *api.PodSandbox, *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	adj := &api.ContainerAdjustment{}
	adj.AddEnv("PREINSTALLED", p.value)
	return adj, nil, nil
}

func main() {
	s, err := stub.New(&plugin{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := s.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
