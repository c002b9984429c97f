package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPulledLineTextAndJSON(t *testing.T) {
	ref := "registry.k8s.io/crio-test/big:latest"
	for name, lines := range map[string]string{
		"text": `time=2026-12-06T16:00:00.000Z level=INFO msg="pulling image" image=` + ref + "\n" +
			`time=2026-12-06T16:00:01.000Z level=INFO msg="pulled image" image=` + ref + ` id=abc duration=1.234s fetch=800ms decompress=250.5µs commit=300ms` + "\n",
		"json": `{"time":"2026-12-06T16:00:01Z","level":"INFO","msg":"pulled image","image":"` + ref + `","id":"abc","duration":1234000000,"fetch":800000000,"decompress":250500,"commit":"300ms"}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "crio.log")
			if err := os.WriteFile(p, []byte("earlier line\n"+lines), 0o644); err != nil {
				t.Fatal(err)
			}
			got := pulledLine(p, 0, ref)
			want := pullTimes{duration: 1234 * time.Millisecond, fetch: 800 * time.Millisecond, decompress: 250500 * time.Nanosecond, commit: 300 * time.Millisecond, ok: true}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestPulledLineWithoutSplit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "crio.log")
	os.WriteFile(p, []byte(`time=x level=INFO msg="pulled image" image=busybox id=abc duration=61ms`+"\n"), 0o644)
	if got := pulledLine(p, 0, "busybox"); got.ok {
		t.Fatalf("a line without fetch/decompress/commit gave a split: %+v", got)
	}
}

func TestParseTextLineQuoted(t *testing.T) {
	m := parseTextLine(`level=WARN msg="a \"quoted\" message" keys="a, b" n=3`)
	if m["msg"] != `a "quoted" message` || m["keys"] != "a, b" || m["n"] != "3" {
		t.Fatalf("%v", m)
	}
}
