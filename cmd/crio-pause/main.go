// Command crio-pause is the infra process crio starts for a pod with a
// shared PID namespace (internal/pause). The daemon runs it when it is
// installed next to the crio binary, and runs "crio pause" otherwise: the
// same code, but with every package of the daemon initialised, which costs
// each pod about 4 MiB of private memory instead of about 0.6.
package main

import "github.com/crio/crio/internal/pause"

func main() { pause.Run() }
