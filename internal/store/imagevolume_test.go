package store

import "testing"

func TestImageVolumeMetadataNamesItsOwner(t *testing.T) {
	owner, ok := ImageVolumeOwner(ImageVolumeMetadata("abc"))
	if !ok || owner != "abc" {
		t.Errorf("owner %q, %v; want abc, true", owner, ok)
	}
	for _, md := range []string{`{"crio-container":true}`, "", "not json", `{"crio-image-volume-of":""}`} {
		if o, ok := ImageVolumeOwner(md); ok {
			t.Errorf("metadata %q read as an image volume of %q", md, o)
		}
	}
}
