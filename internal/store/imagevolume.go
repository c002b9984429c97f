package store

import "encoding/json"

// ImageVolumeMetadata is the storage container metadata that marks a
// container's image volume (a storage container of its own, mounted with
// the pod's ID mappings) with the container it serves.
func ImageVolumeMetadata(owner string) string {
	b, _ := json.Marshal(imageVolumeMark{owner})
	return string(b)
}

// ImageVolumeOwner tells whether storage container metadata marks an
// image volume, and of which container.
func ImageVolumeOwner(metadata string) (string, bool) {
	var v imageVolumeMark
	if json.Unmarshal([]byte(metadata), &v) != nil || v.Owner == "" {
		return "", false
	}
	return v.Owner, true
}

type imageVolumeMark struct {
	Owner string `json:"crio-image-volume-of"`
}
