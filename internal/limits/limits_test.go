package limits

import (
	"errors"
	"strings"
	"testing"

	"github.com/crio/crio/internal/config"
)

func TestMetadataNamesTheLimitCrossed(t *testing.T) {
	l := config.LimitsConfig{MaxLabels: 2, MaxAnnotations: 3, MaxMetadataBytes: 10}
	if err := Metadata("cfg", map[string]string{"a": "1", "b": "2"}, map[string]string{"c": "1"}, l); err != nil {
		t.Fatalf("within the limits: %v", err)
	}
	for _, c := range []struct {
		labels, annotations map[string]string
		key                 string
	}{
		{map[string]string{"a": "", "b": "", "c": ""}, nil, "max_labels = 2"},
		{nil, map[string]string{"a": "", "b": "", "c": "", "d": ""}, "max_annotations = 3"},
		{nil, map[string]string{"key": "12345678"}, "max_metadata_bytes = 10"},
	} {
		err := Metadata("cfg", c.labels, c.annotations, l)
		if !errors.Is(err, ErrExceeded) || !strings.Contains(err.Error(), c.key) {
			t.Errorf("Metadata(%v, %v) = %v; want a refusal naming %q", c.labels, c.annotations, err, c.key)
		}
	}
	if err := Metadata("cfg", map[string]string{"a": "1", "b": "2", "c": "3"}, nil, config.LimitsConfig{}); err != nil {
		t.Errorf("zero limits refuse: %v", err)
	}
}

func TestSessionsAreCountedPerKeyAndReleasedOnce(t *testing.T) {
	var s Sessions
	r1, err := s.Acquire("c", 2)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Acquire("c", 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire("c", 2); !errors.Is(err, ErrExceeded) || !strings.Contains(err.Error(), "max_exec_sessions_per_container = 2") {
		t.Fatalf("third session: %v", err)
	}
	if r, err := s.Acquire("other", 2); err != nil {
		t.Fatalf("another container's session: %v", err)
	} else {
		r()
	}
	r1()
	r1() // a second release must not free another session
	if _, err := s.Acquire("c", 2); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := s.Acquire("c", 2); !errors.Is(err, ErrExceeded) {
		t.Fatalf("the double release freed a slot: %v", err)
	}
	r2()
}
