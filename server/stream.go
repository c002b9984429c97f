package server

// streamChunk is how many items one message of a Stream* RPC (images,
// sandboxes, containers) carries: well under the gRPC message limit even
// for items with many names, labels or annotations.
const streamChunk = 100
