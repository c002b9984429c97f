package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/crio/crio/internal/daemon"
)

// newStatusCommand asks a running daemon over its CRI socket.
func newStatusCommand(opts func(*cobra.Command) daemon.Options) *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:   "status [config|info|containers|pods]",
		Short: "Ask a running daemon for its configuration, runtime info and workloads",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			what := "all"
			if len(args) == 1 {
				what = args[0]
			}
			if socket == "" {
				l, err := daemon.LoadConfig(opts(cmd))
				if err != nil {
					return err
				}
				socket = l.API.Listen
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return err
			}
			defer conn.Close()
			rt := runtimeapi.NewRuntimeServiceClient(conn)
			out := cmd.OutOrStdout()
			st, err := rt.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
			if err != nil {
				return fmt.Errorf("asking %s: %w", socket, err)
			}
			switch what {
			case "config":
				fmt.Fprint(out, st.Info["config"])
				return nil
			case "info", "all":
				ver, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
				if err != nil {
					return err
				}
				rc, err := rt.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
				if err != nil {
					return err
				}
				info := map[string]any{
					"version":      ver,
					"conditions":   st.Status.Conditions,
					"handlers":     st.RuntimeHandlers,
					"cgroupDriver": rc.GetLinux().GetCgroupDriver().String(),
					"info":         json.RawMessage(st.Info["info"]),
				}
				if err := printJSON(out, info); err != nil || what == "info" {
					return err
				}
			}
			switch what {
			case "containers", "all":
				cs, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
				if err != nil {
					return fmt.Errorf("listing containers: %w", err)
				}
				if err := printJSON(out, map[string]any{"containers": cs.Containers}); err != nil || what == "containers" {
					return err
				}
			}
			switch what {
			case "pods", "all":
				ps, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
				if err != nil {
					return fmt.Errorf("listing pods: %w", err)
				}
				return printJSON(out, map[string]any{"pods": ps.Items})
			}
			return fmt.Errorf("unknown status %q: want config, info, containers or pods", what)
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "CRI socket of the daemon (default: crio.api.listen of the configuration)")
	return cmd
}

func printJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
