package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/crio/crio/internal/daemon"
	"github.com/crio/crio/internal/leakcheck"
)

// newCheckCommand lists what the daemon left behind that belongs to no
// pod or container it knows. It reads state files and the host only, so
// it works while the daemon is stopped and is safe while it runs.
func newCheckCommand(opts func(*cobra.Command) daemon.Options) *cobra.Command {
	var parents []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "List leaked namespace pins, mounts, IP leases, cgroups, processes and state; exit 1 when any",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := daemon.LoadConfig(opts(cmd))
			if err != nil {
				return err
			}
			scope := leakcheck.ScopeFromConfig(l.Config)
			scope.CgroupParents = parents
			leaks, err := leakcheck.Check(scope)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if leaks == nil {
					leaks = []leakcheck.Leak{}
				}
				b, err := json.MarshalIndent(leaks, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", b)
			} else {
				for _, lk := range leaks {
					fmt.Fprintln(out, lk)
				}
			}
			if len(leaks) > 0 {
				return fmt.Errorf("%d leaked resources", len(leaks))
			}
			if !asJSON {
				fmt.Fprintln(out, "no leaks found")
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&parents, "cgroup-parent", nil, "cgroup (as the kubelet's cgroup parent) below which every cgroup must belong to a known pod or container; repeatable")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the leaks as JSON")
	return cmd
}
