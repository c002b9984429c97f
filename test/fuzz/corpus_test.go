package fuzz

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

const corpusHeader = "go test fuzz v1\n"

// corpusFile is data in the fuzzing engine's corpus file format.
func corpusFile(data []byte) []byte {
	return fmt.Appendf(nil, "%s[]byte(%q)\n", corpusHeader, data)
}

// parseCorpusFile reads a one-[]byte corpus file.
func parseCorpusFile(b []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(b, []byte(corpusHeader))
	if !ok {
		return nil, fmt.Errorf("no %q header", corpusHeader)
	}
	rest = bytes.TrimSpace(rest)
	lit, ok := bytes.CutPrefix(rest, []byte("[]byte("))
	if !ok || !bytes.HasSuffix(lit, []byte(")")) {
		return nil, fmt.Errorf("not one []byte value")
	}
	s, err := strconv.Unquote(string(lit[:len(lit)-1]))
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// TestWriteSeedCorpus writes the seeds into testdata/fuzz/FuzzCRI as
// corpus files (named seed-<hash>), when CRIO_FUZZ_WRITE_CORPUS is set:
// run it after changing seeds().
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("CRIO_FUZZ_WRITE_CORPUS") == "" {
		t.Skip("set CRIO_FUZZ_WRITE_CORPUS=1 to rewrite testdata/fuzz/FuzzCRI/seed-*")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCRI")
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, f := range old {
		os.Remove(f)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds() {
		data := encode(s...)
		name := fmt.Sprintf("seed-%x", sha256.Sum256(data))[:21]
		if err := os.WriteFile(filepath.Join(dir, name), corpusFile(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
