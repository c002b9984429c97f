package server

// streamChunk is how many items one message of a Stream* RPC (images,
// sandboxes, containers) carries: well under the gRPC message limit even
// for items with many names, labels or annotations.
const streamChunk = 100

// sendChunks sends items in messages of at most streamChunk items.
func sendChunks[T any](items []T, send func([]T) error) error {
	for len(items) > 0 {
		n := min(streamChunk, len(items))
		if err := send(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}
