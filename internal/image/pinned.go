package image

import (
	"strings"

	"go.podman.io/image/v5/docker/reference"
)

// pinMatcher says whether an image name is pinned: the pause image, or a
// crio.image.pinned_images pattern. Patterns are CRI-O's: an exact name,
// a glob ending in "*" (prefix), or a keyword "*word*" (substring).
type pinMatcher struct {
	exact    map[string]bool
	prefixes []string
	keywords []string
}

func newPinMatcher(pause string, patterns []string) *pinMatcher {
	m := &pinMatcher{exact: map[string]bool{}}
	add := func(name string) {
		m.exact[name] = true
		// A pattern may be written short ("pause:3.10", "busybox"); store
		// the normalized form too so it matches the names in storage.
		if n, err := reference.ParseNormalizedNamed(name); err == nil {
			m.exact[reference.TagNameOnly(n).String()] = true
		}
	}
	if pause != "" {
		add(pause)
	}
	for _, p := range patterns {
		switch {
		case p == "":
		case len(p) > 1 && strings.HasPrefix(p, "*") && strings.HasSuffix(p, "*"):
			m.keywords = append(m.keywords, strings.Trim(p, "*"))
		case strings.HasSuffix(p, "*"):
			m.prefixes = append(m.prefixes, strings.TrimSuffix(p, "*"))
		default:
			add(p)
		}
	}
	return m
}

// pinned reports whether any of names matches.
func (m *pinMatcher) pinned(names []string) bool {
	for _, n := range names {
		if m.exact[n] {
			return true
		}
		for _, p := range m.prefixes {
			if strings.HasPrefix(n, p) {
				return true
			}
		}
		for _, k := range m.keywords {
			if strings.Contains(n, k) {
				return true
			}
		}
	}
	return false
}
