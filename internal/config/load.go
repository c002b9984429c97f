package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Loaded is a configuration together with where each of its keys came from.
type Loaded struct {
	*Config
	// Files are the files read, in the order they were merged.
	Files []string
	// Warnings are non-fatal findings, such as unknown keys.
	Warnings []string
	// origin maps a dotted key ("crio.api.listen") to the file that set it last.
	origin map[string]string
}

// Origin names the file that set key last, or "" for a default or a flag.
func (l *Loaded) Origin(key string) string { return l.origin[key] }

// SetOrigin records that key was set by source (a flag, for instance).
func (l *Loaded) SetOrigin(key, source string) {
	if l.origin == nil {
		l.origin = map[string]string{}
	}
	l.origin[key] = source
}

// Load reads the defaults, then file, then every *.conf in dir in lexical
// order. A missing file or dir is not an error unless required says so
// (the operator named it explicitly).
func Load(file, dir string, fileRequired, dirRequired bool) (*Loaded, error) {
	l := &Loaded{Config: Default(), origin: map[string]string{}}
	if file != "" {
		if err := l.mergeFile(file); err != nil {
			if !errors.Is(err, fs.ErrNotExist) || fileRequired {
				return nil, err
			}
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !dirRequired:
		case err != nil:
			return nil, fmt.Errorf("reading config dir: %w", err)
		default:
			names := make([]string, 0, len(entries))
			for _, e := range entries {
				if e.IsDir() || !strings.HasSuffix(e.Name(), ".conf") {
					continue
				}
				names = append(names, e.Name())
			}
			sort.Strings(names)
			for _, n := range names {
				if err := l.mergeFile(filepath.Join(dir, n)); err != nil {
					return nil, err
				}
			}
		}
	}
	l.Warnings = append(l.Warnings, l.raiseToMinimums()...)
	l.normalize()
	l.Warnings = append(l.Warnings, l.compatWarnings()...)
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// mergeFile decodes one file over the current values: keys it sets replace
// earlier ones, maps (runtime handlers) gain or replace entries, and keys it
// does not mention are kept.
func (l *Loaded) mergeFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	var doc struct {
		Crio *Config `toml:"crio"`
	}
	doc.Crio = l.Config
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	for _, k := range md.Undecoded() {
		l.Warnings = append(l.Warnings, fmt.Sprintf("config file %s: unknown key %q ignored", path, k.String()))
	}
	for _, k := range md.Keys() {
		l.origin[k.String()] = path
	}
	l.Files = append(l.Files, path)
	return nil
}

// FieldError is a validation failure of one key.
type FieldError struct {
	File   string // where the key was set; "" for a default or a flag
	Key    string // dotted TOML key
	Reason string
}

func (e *FieldError) Error() string {
	where := "default value"
	if e.File != "" {
		where = e.File
	}
	return fmt.Sprintf("invalid configuration (%s): %s: %s", where, e.Key, e.Reason)
}

// Validate checks every value and names the file and key of the first
// problem it finds.
func (l *Loaded) Validate() error {
	errs := validate(l.Config)
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, 0, len(errs))
	for _, fe := range errs {
		fe.File = l.originOf(fe.Key)
		out = append(out, fe)
	}
	return errors.Join(out...)
}

// originOf finds the file of key, or of the nearest table that holds it
// (a runtime handler set as a whole table, say).
func (l *Loaded) originOf(key string) string {
	for k := key; k != ""; {
		if f, ok := l.origin[k]; ok {
			return f
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return ""
}
