package oci

import (
	"bytes"
	"strings"
	"testing"
)

func TestCappedBufferKeepsPrefixAndNeverFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		limit  int
		want   string
	}{
		{"under", []string{"ab", "cd"}, 10, "abcd"},
		{"exact", []string{"abcd", "ef"}, 6, "abcdef"},
		{"split write", []string{"abcd", "efgh"}, 6, "abcdef"},
		{"after full", []string{"abcdef", "gh", "ij"}, 6, "abcdef"},
		{"zero", []string{"abc"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &cappedBuffer{limit: tc.limit}
			for _, w := range tc.writes {
				n, err := b.Write([]byte(w))
				if n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			if string(b.buf) != tc.want {
				t.Errorf("kept %q; want %q", b.buf, tc.want)
			}
			if cap(b.buf) > tc.limit && tc.limit > 0 {
				t.Errorf("capacity %d beyond the limit %d", cap(b.buf), tc.limit)
			}
		})
	}
}

func TestCappedBufferGrowthStaysWithinLimit(t *testing.T) {
	const limit = 16 << 20
	b := &cappedBuffer{limit: limit}
	chunk := bytes.Repeat([]byte{'x'}, 32<<10)
	allocated := 0
	last := 0
	for range 100 << 20 / len(chunk) {
		b.Write(chunk)
		if cap(b.buf) != last {
			allocated += cap(b.buf)
			last = cap(b.buf)
		}
	}
	if len(b.buf) != limit || cap(b.buf) != limit {
		t.Errorf("len %d cap %d; want both %d", len(b.buf), cap(b.buf), limit)
	}
	// Doubling: everything allocated on the way sums to under 2x the limit.
	if allocated > 2*limit {
		t.Errorf("allocated %d MiB in total to keep 16 MiB", allocated>>20)
	}
}

func TestTailBufferKeepsEnd(t *testing.T) {
	var b tailBuffer
	b.Write([]byte(strings.Repeat("a", tailMax)))
	b.Write([]byte("the end"))
	s := b.String()
	if len(s) != tailMax || !strings.HasSuffix(s, "the end") {
		t.Errorf("tail is %d bytes ending %q", len(s), s[len(s)-10:])
	}
}
