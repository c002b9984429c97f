package image

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// An image's config is hostile input: whoever built the image chose every
// byte. These caps are far above anything a real image needs and far below
// what would hurt the daemon (memory, the size of a CRI reply, the number
// of mounts or environment entries a container would get).
const (
	maxConfigSize   = 4 << 20 // the same cap go.podman.io/image applies when pulling
	maxEnv          = 4096
	maxEnvEntry     = 128 << 10
	maxLabels       = 4096
	maxLabelSize    = 64 << 10
	maxVolumes      = 512
	maxPorts        = 4096
	maxArgs         = 4096
	maxUserLen      = 256
	maxLayers       = 500 // overlay cannot stack more lower layers than this
	maxStringLength = 64 << 10
)

// ParseConfig decodes an OCI (or Docker schema 2) image config and
// refuses configs with absurd values. The error names the field.
func ParseConfig(raw []byte) (*v1.Image, error) {
	if len(raw) > maxConfigSize {
		return nil, fmt.Errorf("%w: config is %d bytes, more than the %d allowed", ErrBadImage, len(raw), maxConfigSize)
	}
	var img v1.Image
	if err := json.Unmarshal(raw, &img); err != nil {
		return nil, fmt.Errorf("%w: config is not valid JSON: %v", ErrBadImage, err)
	}
	if err := ValidateConfig(&img); err != nil {
		return nil, err
	}
	return &img, nil
}

// ValidateConfig checks the fields of a decoded config against the caps.
func ValidateConfig(img *v1.Image) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: config %s", ErrBadImage, fmt.Sprintf(format, args...))
	}
	c := img.Config
	if _, _, err := ParseUser(c.User); err != nil {
		return bad("User: %v", err)
	}
	if len(c.Env) > maxEnv {
		return bad("Env has %d entries, more than %d", len(c.Env), maxEnv)
	}
	for i, e := range c.Env {
		if len(e) > maxEnvEntry {
			return bad("Env[%d] is %d bytes, more than %d", i, len(e), maxEnvEntry)
		}
		if strings.IndexByte(e, 0) >= 0 {
			return bad("Env[%d] contains a NUL byte", i)
		}
	}
	if len(c.Entrypoint)+len(c.Cmd) > maxArgs {
		return bad("Entrypoint and Cmd have %d arguments, more than %d", len(c.Entrypoint)+len(c.Cmd), maxArgs)
	}
	for _, a := range append(append([]string(nil), c.Entrypoint...), c.Cmd...) {
		if len(a) > maxEnvEntry {
			return bad("an Entrypoint/Cmd argument is %d bytes, more than %d", len(a), maxEnvEntry)
		}
	}
	if len(c.WorkingDir) > maxStringLength || strings.IndexByte(c.WorkingDir, 0) >= 0 {
		return bad("WorkingDir is not a usable path")
	}
	if len(c.Labels) > maxLabels {
		return bad("Labels has %d entries, more than %d", len(c.Labels), maxLabels)
	}
	for k, v := range c.Labels {
		if len(k)+len(v) > maxLabelSize {
			return bad("label %.64q is %d bytes, more than %d", k, len(k)+len(v), maxLabelSize)
		}
	}
	if len(c.Volumes) > maxVolumes {
		return bad("Volumes has %d entries, more than %d", len(c.Volumes), maxVolumes)
	}
	for v := range c.Volumes {
		if len(v) > maxStringLength || strings.IndexByte(v, 0) >= 0 {
			return bad("volume %.64q is not a usable path", v)
		}
	}
	if len(c.ExposedPorts) > maxPorts {
		return bad("ExposedPorts has %d entries, more than %d", len(c.ExposedPorts), maxPorts)
	}
	if len(c.StopSignal) > 32 {
		return bad("StopSignal %.64q is not a signal", c.StopSignal)
	}
	if n := len(img.RootFS.DiffIDs); n > maxLayers {
		return bad("rootfs has %d layers, more than %d", n, maxLayers)
	}
	if len(img.History) > 4*maxLayers {
		return bad("History has %d entries, more than %d", len(img.History), 4*maxLayers)
	}
	return nil
}

// ParseUser splits an image's User ("uid", "name", "uid:gid", "name:group")
// into the CRI's mutually exclusive uid or username. An empty User gives
// neither. Numeric IDs must be valid Linux IDs; names must be short and
// printable.
func ParseUser(user string) (uid *int64, username string, err error) {
	if user == "" {
		return nil, "", nil
	}
	if len(user) > maxUserLen {
		return nil, "", fmt.Errorf("%d bytes long, more than %d", len(user), maxUserLen)
	}
	u, group, _ := strings.Cut(user, ":")
	for _, part := range []string{u, group} {
		for _, r := range part {
			if r < 0x21 || r == 0x7f || r == ':' || r == '/' {
				return nil, "", fmt.Errorf("%q contains a character not allowed in a user or group", user)
			}
		}
	}
	if u == "" {
		return nil, "", fmt.Errorf("%q has no user part", user)
	}
	if u[0] == '-' || (group != "" && group[0] == '-') {
		return nil, "", fmt.Errorf("%q: a user or group may not start with '-'", user)
	}
	if group != "" {
		if err := checkID(group); err != nil {
			return nil, "", fmt.Errorf("group of %q: %w", user, err)
		}
	}
	if u[0] >= '0' && u[0] <= '9' {
		if err := checkID(u); err != nil {
			return nil, "", fmt.Errorf("user of %q: %w", user, err)
		}
		n, _ := strconv.ParseInt(u, 10, 64)
		return &n, "", nil
	}
	return nil, u, nil
}

// checkID accepts a name or a number in 0..2^32-2 (2^32-1 is (uid_t)-1,
// which means "no change" to the kernel).
func checkID(s string) error {
	if s[0] < '0' || s[0] > '9' {
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 {
		return fmt.Errorf("%q is not a valid ID (0 to 4294967294)", s)
	}
	return nil
}
