// Package inspect serves CRI-O's inspect API: plain HTTP on the CRI
// socket, beside gRPC. The kubelet's cAdvisor asks it, when the kubelet's
// runtime endpoint ends in run/crio/crio.sock and its
// PodAndContainerStatsFromCRI gate is off (the default), for a container's
// pid, labels and writable layer; without it /stats/summary fails on
// every such node. The JSON names are CRI-O's, which cAdvisor decodes.
package inspect

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
)

// Info is GET /info: where images and layers live and the cgroup driver.
type Info struct {
	StorageDriver string `json:"storage_driver"`
	StorageRoot   string `json:"storage_root"`
	StorageImage  string `json:"storage_image"`
	CgroupDriver  string `json:"cgroup_driver"`
}

// Container is GET /containers/{id}.
type Container struct {
	Name string `json:"name"`
	// Pid is the container's init process; 0 when it does not run.
	Pid int `json:"pid"`
	// Image is the image as the kubelet named it.
	Image string `json:"image"`
	// CreatedTime is in nanoseconds since the epoch.
	CreatedTime int64             `json:"created_time"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	LogPath     string            `json:"log_path"`
	// Root is the mounted root file system (overlay's .../merged);
	// cAdvisor counts the writable layer's usage in the diff beside it.
	Root string   `json:"root"`
	IP   string   `json:"ip_address"`
	IPs  []string `json:"ip_addresses"`
}

// ErrNotFound is what a Source returns for an unknown container; it
// answers 404, which cAdvisor takes for "not registered yet" and retries.
var ErrNotFound = errors.New("container not found")

// Source answers the API from the daemon's memory.
type Source interface {
	Info() Info
	InspectContainer(id string) (*Container, error)
}

// Handler serves the API from src. Only GET is served; like CRI-O's, the
// API needs no authentication beyond the socket's permissions.
func Handler(src Source, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, log, src.Info())
	})
	mux.HandleFunc("GET /containers/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, err := src.InspectContainer(r.PathValue("id"))
		switch {
		case errors.Is(err, ErrNotFound):
			http.Error(w, err.Error(), http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			writeJSON(w, log, c)
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, log *slog.Logger, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Error("inspect API: encoding the answer", "error", err)
		http.Error(w, "encoding the answer failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
