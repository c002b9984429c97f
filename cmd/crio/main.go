// Command crio is a Kubernetes CRI runtime that reads CRI-O's configuration.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.podman.io/storage/pkg/reexec"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/daemon"
	"github.com/crio/crio/internal/sandbox"
	"github.com/crio/crio/internal/version"
)

func main() {
	// The infra process of a pod with a shared PID namespace is this
	// binary re-executed; it must not parse flags or load any config.
	if len(os.Args) == 2 && os.Args[1] == "pause" {
		sandbox.RunPause()
		return
	}
	// go.podman.io/storage re-executes this binary to unpack layers in a
	// chroot; in such a child, Init runs the requested function and exits.
	if reexec.Init() {
		return
	}
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "crio:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	var configFile, configDir string
	root := &cobra.Command{
		Use:           "crio",
		Short:         "A Kubernetes container runtime (CRI) with CRI-O's configuration format",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&configFile, "config", "c", config.DefaultConfigFile, "main configuration file")
	pf.StringVarP(&configDir, "config-dir", "d", config.DefaultConfigDir, "directory of drop-in configuration files (*.conf, in lexical order)")
	addConfigFlags(pf)

	opts := func(cmd *cobra.Command) daemon.Options {
		return daemon.Options{
			ConfigFile:   configFile,
			ConfigDir:    configDir,
			FileRequired: cmd.Flags().Changed("config"),
			DirRequired:  cmd.Flags().Changed("config-dir"),
			Override:     applyFlags(cmd.Flags()),
		}
	}
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		// Swallow SIGPIPE: with a handler installed, a write to a
		// closed pipe or socket (a CNI plugin that exits early, a client
		// that hangs up, a log reader gone) returns EPIPE instead of
		// killing the daemon. It must not stop the daemon either, which a
		// context cancelled by SIGPIPE did. Unlike SIG_IGN, a caught
		// signal is reset to default in the programs the daemon runs.
		signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
		return daemon.Run(context.Background(), opts(cmd))
	}
	root.AddCommand(
		&cobra.Command{
			Use:   "config",
			Short: "Print the effective configuration as commented TOML",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				l, err := daemon.LoadConfig(opts(cmd))
				if err != nil {
					return err
				}
				for _, w := range l.Warnings {
					fmt.Fprintln(os.Stderr, "warning:", w)
				}
				return l.Config.WriteTOML(cmd.OutOrStdout())
			},
		},
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				v, commit := version.Get()
				fmt.Fprintf(cmd.OutOrStdout(), "Version:     %s\nGitCommit:   %s\nCRI API:     %s\n", v, commit, version.CRIVersion)
			},
		},
		newStatusCommand(opts),
		newCheckCommand(opts),
	)
	return root
}
