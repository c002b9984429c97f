package image

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiagnoseLayerNamesWhatStorageCannotUnpack: storage's unpacking child
// only says "no such file or directory" or "unhandled tar header type";
// the pull error must name the member.
func TestDiagnoseLayerNamesWhatStorageCannotUnpack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []*tar.Header
		want    string
	}{
		{"hard link out", []*tar.Header{{Typeflag: tar.TypeLink, Name: "evil", Linkname: "../../etc/shadow"}}, `hard link "evil" -> "../../etc/shadow": the target is not a file of the layer`},
		{"absolute hard link", []*tar.Header{{Typeflag: tar.TypeLink, Name: "evil", Linkname: "/etc/passwd"}}, `hard link "evil" -> "/etc/passwd"`},
		{"hard link in the layer", []*tar.Header{{Typeflag: tar.TypeReg, Name: "etc/passwd"}, {Typeflag: tar.TypeLink, Name: "ok", Linkname: "/etc/passwd"}}, ""},
		{"unknown type", []*tar.Header{{Typeflag: 'Z', Name: "odd", Format: tar.FormatGNU}}, `member "odd" has tar type 'Z'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			for _, h := range tc.headers {
				h.Mode = 0o644
				if err := tw.WriteHeader(h); err != nil {
					t.Fatal(err)
				}
			}
			tw.Close()
			p := filepath.Join(t.TempDir(), "layer")
			if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			got := diagnoseLayer(p)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("diagnoseLayer = %q; want %q", got, tc.want)
			}
		})
	}
}
