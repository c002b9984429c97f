package container

import (
	"slices"
	"sync"
)

// storageDeletes are the containers whose storage (writable layer and
// storage record) is being deleted in the background, after
// RemoveContainer has answered. go.podman.io/storage rewrites and syncs
// three JSON files and takes many locks to delete one, about 5 ms;
// containerd likewise leaves its snapshots to a later garbage
// collection. The container's state file is removed before the answer,
// so a daemon that dies first finds a storage container without one on
// restart and deletes it (restore's half-created case).
type storageDeletes struct {
	mu sync.Mutex
	m  map[string]chan struct{} // container ID -> closed when deleted
}

// deleteStorageLater deletes id's storage in the background; Close and
// waitStorage wait for it.
func (m *Manager) deleteStorageLater(id string) {
	done := make(chan struct{})
	m.deletes.mu.Lock()
	if m.deletes.m == nil {
		m.deletes.m = map[string]chan struct{}{}
	}
	m.deletes.m[id] = done
	m.deletes.mu.Unlock()
	m.reaps.Add(1)
	go func() {
		defer m.reaps.Done()
		m.deleteStorage(id)
		m.deletes.mu.Lock()
		delete(m.deletes.m, id)
		m.deletes.mu.Unlock()
		close(done)
	}()
}

// waitStorage waits until the storage of the containers ids (of every
// removed container when ids is empty) is deleted: RemovePodSandbox
// leaves nothing of its containers, and RemoveImage does not find an
// image used by a container already removed.
func (m *Manager) waitStorage(ids ...string) {
	m.deletes.mu.Lock()
	var pending []chan struct{}
	for id, done := range m.deletes.m {
		if len(ids) == 0 || slices.Contains(ids, id) {
			pending = append(pending, done)
		}
	}
	m.deletes.mu.Unlock()
	for _, done := range pending {
		<-done
	}
}
