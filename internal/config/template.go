package config

import (
	"encoding"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

const header = `# The configuration of crio, a CRI runtime for Kubernetes, in CRI-O's format.
#
# crio reads /etc/crio/crio.conf, then every /etc/crio/crio.conf.d/*.conf in
# lexical order (keys in later files win), then command-line flags.
# This text is generated from the code's defaults: "crio config" prints it.
`

// WriteTOML writes c as commented TOML that Load reads back to the same
// values.
func (c *Config) WriteTOML(w io.Writer) error {
	var b strings.Builder
	b.WriteString(header)
	writeTable(&b, "crio", "", reflect.ValueOf(c).Elem())
	_, err := io.WriteString(w, b.String())
	return err
}

// String renders the configuration as TOML.
func (c *Config) String() string {
	var b strings.Builder
	_ = c.WriteTOML(&b)
	return b.String()
}

// writeTable writes the scalar keys of a struct under [name], then its
// sub-tables, so that every key lands in the table it belongs to.
func writeTable(b *strings.Builder, name, doc string, v reflect.Value) {
	b.WriteString("\n")
	comment(b, doc)
	fmt.Fprintf(b, "[%s]\n", name)
	t := v.Type()
	type sub struct {
		name, doc string
		v         reflect.Value
	}
	var subs []sub
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("toml")
		if key == "" || key == "-" {
			continue
		}
		fv := v.Field(i)
		doc := f.Tag.Get("doc")
		switch {
		case f.Type.Kind() == reflect.Struct && !isText(f.Type):
			subs = append(subs, sub{name + "." + key, doc, fv})
		case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
			keys := fv.MapKeys()
			sort.Slice(keys, func(a, b int) bool { return keys[a].String() < keys[b].String() })
			for j, k := range keys {
				d := ""
				if j == 0 {
					d = doc
				}
				subs = append(subs, sub{name + "." + key + "." + tomlKey(k.String()), d, fv.MapIndex(k)})
			}
		default:
			b.WriteString("\n")
			comment(b, doc)
			fmt.Fprintf(b, "%s = %s\n", key, tomlValue(fv))
		}
	}
	for _, s := range subs {
		writeTable(b, s.name, s.doc, s.v)
	}
}

func comment(b *strings.Builder, doc string) {
	if doc == "" {
		return
	}
	for _, line := range strings.Split(doc, "\n") {
		fmt.Fprintf(b, "# %s\n", line)
	}
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

func isText(t reflect.Type) bool { return t.Implements(textMarshaler) }

func tomlValue(v reflect.Value) string {
	if isText(v.Type()) {
		txt, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return `""`
		}
		return quote(string(txt))
	}
	switch v.Kind() {
	case reflect.String:
		return quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Slice:
		if v.Len() == 0 {
			return "[]"
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = "  " + tomlValue(v.Index(i)) + ","
		}
		return "[\n" + strings.Join(parts, "\n") + "\n]"
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(a, b int) bool { return keys[a].String() < keys[b].String() })
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = tomlKey(k.String()) + " = " + tomlValue(v.MapIndex(k))
		}
		if len(parts) == 0 {
			return "{}"
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	panic(fmt.Sprintf("config: no TOML form for %s", v.Type()))
}

func tomlKey(k string) string {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

// quote writes a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
