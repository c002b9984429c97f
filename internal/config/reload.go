package config

import (
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
)

// Live holds the configuration in force. Readers take a snapshot with Get;
// a reload swaps in a new value without locking them out.
type Live struct {
	p atomic.Pointer[Config]
}

// NewLive wraps c.
func NewLive(c *Config) *Live {
	l := &Live{}
	l.p.Store(c)
	return l
}

// Get returns the configuration in force; callers must not modify it.
func (l *Live) Get() *Config { return l.p.Load() }

// Change is one reloaded key.
type Change struct {
	Key      string
	Old, New any
}

func (c Change) String() string { return fmt.Sprintf("%s: %v -> %v", c.Key, c.Old, c.New) }

// reloadable lists the keys SIGHUP applies, with accessors on a Config.
var reloadable = []struct {
	key string
	get func(*Config) any
	set func(dst, src *Config)
}{
	{"crio.runtime.log_level", func(c *Config) any { return c.Runtime.LogLevel }, func(d, s *Config) { d.Runtime.LogLevel = s.Runtime.LogLevel }},
	{"crio.image.pause_image", func(c *Config) any { return c.Image.PauseImage }, func(d, s *Config) { d.Image.PauseImage = s.Image.PauseImage }},
	{"crio.image.pinned_images", func(c *Config) any { return c.Image.PinnedImages }, func(d, s *Config) { d.Image.PinnedImages = slices.Clone(s.Image.PinnedImages) }},
	{"crio.image.registries_conf", func(c *Config) any { return c.Image.RegistriesConf }, func(d, s *Config) { d.Image.RegistriesConf = s.Image.RegistriesConf }},
	{"crio.image.registries_conf_dir", func(c *Config) any { return c.Image.RegistriesConfDir }, func(d, s *Config) { d.Image.RegistriesConfDir = s.Image.RegistriesConfDir }},
	{"crio.image.insecure_registries", func(c *Config) any { return c.Image.InsecureRegistries }, func(d, s *Config) { d.Image.InsecureRegistries = slices.Clone(s.Image.InsecureRegistries) }},
	{"crio.image.signature_policy", func(c *Config) any { return c.Image.SignaturePolicy }, func(d, s *Config) { d.Image.SignaturePolicy = s.Image.SignaturePolicy }},
	{"crio.runtime.decryption_keys_path", func(c *Config) any { return c.Runtime.DecryptionKeysPath }, func(d, s *Config) { d.Runtime.DecryptionKeysPath = s.Runtime.DecryptionKeysPath }},
	{"crio.runtime.seccomp_profile", func(c *Config) any { return c.Runtime.SeccompProfile }, func(d, s *Config) { d.Runtime.SeccompProfile = s.Runtime.SeccompProfile }},
}

// ApplyReload returns a copy of cur with the reloadable keys taken from
// next, the changes made, and the keys that differ but need a restart.
func ApplyReload(cur, next *Config) (*Config, []Change, []string) {
	out := *cur
	var changes []Change
	for _, r := range reloadable {
		if !reflect.DeepEqual(r.get(cur), r.get(next)) {
			changes = append(changes, Change{Key: r.key, Old: r.get(cur), New: r.get(next)})
			r.set(&out, next)
		}
	}
	// Anything else that differs once the reloadable keys agree needs a restart.
	probe := *next
	for _, r := range reloadable {
		r.set(&probe, cur)
	}
	var restart []string
	diffKeys("crio", reflect.ValueOf(*cur), reflect.ValueOf(probe), &restart)
	return &out, changes, restart
}

func diffKeys(prefix string, a, b reflect.Value, out *[]string) {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("toml")
		if key == "" || key == "-" {
			continue
		}
		av, bv := a.Field(i), b.Field(i)
		if f.Type.Kind() == reflect.Struct && !isText(f.Type) {
			diffKeys(prefix+"."+key, av, bv, out)
			continue
		}
		if !reflect.DeepEqual(av.Interface(), bv.Interface()) {
			*out = append(*out, prefix+"."+key)
		}
	}
}

// Set replaces the configuration in force.
func (l *Live) Set(c *Config) { l.p.Store(c) }
