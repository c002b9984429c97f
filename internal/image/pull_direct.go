package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
)

// The direct pull writes an image into storage the way go.podman.io/image's
// storage destination does (same layer IDs, same image record, same
// big-data keys, so either path reuses and reads what the other wrote), but
// without its staging: copy.Image stores each blob in a file while
// decompressing it once to learn its DiffID, then hands the compressed file
// to storage, which decompresses it a second time, and storage applies the
// layers one after the other (a layer is unpacked once its parent exists).
// Here every layer is downloaded and decompressed once, streaming, into a
// staging directory of the storage driver, all at once (up to
// max_parallel_downloads; see pull_staged.go); once all are staged, with
// the blob's digest and size and the config's DiffID checked, the layers
// are registered in order. A layer ID is derived from the DiffIDs, so a
// layer whose content did not match would poison every later image that
// names the same DiffID. A driver that cannot stage gets each layer
// fetched into a file, checked, and applied with PutLayer, in order, as
// the files arrive.
//
// It covers what a node pulls: schema2 and OCI images (gzip, zstd,
// zstd:chunked pulled whole, uncompressed) under a policy that needs no
// signatures. Anything else (signatures to verify and store, foreign or
// encrypted layers, schema1) takes copy.Image.

// defaultParallelDownloads is go.podman.io/image's default too.
const defaultParallelDownloads = 6

// pullTimes splits a direct pull's time. The phases overlap in wall time:
// fetch is the wall time until the last blob was downloaded (staged:
// downloaded and unpacked, as one stream); decompress is the time spent
// inside the decompressors, added up over the layers (which unpack
// several at once); commit is the wall time during which at least one
// layer was being unpacked or registered, plus the image record (it holds
// the decompression and, staged, the download).
type pullTimes struct {
	fetch, decompress, commit time.Duration
}

// vetted is what vet read of an image: the exact bytes that are stored.
type vetted struct {
	ref        types.ImageReference // by digest
	src        types.ImageSource
	top        []byte // the manifest the reference names (perhaps a list)
	topDigest  digest.Digest
	inst       []byte // the platform's image manifest
	instDigest digest.Digest
	instMIME   string
	config     []byte
	configInfo types.BlobInfo
	layers     []types.BlobInfo
	diffIDs    []digest.Digest
	created    *time.Time
}

func (v *vetted) Close() error { return v.src.Close() }

// directReason says why v cannot take the direct path, "" when it can.
func directReason(v *vetted, policy *signature.Policy) string {
	switch v.instMIME {
	case manifest.DockerV2Schema2MediaType, "application/vnd.oci.image.manifest.v1+json":
	default:
		return "manifest type " + v.instMIME
	}
	if len(v.diffIDs) != len(v.layers) {
		return fmt.Sprintf("config lists %d diff IDs for %d layers", len(v.diffIDs), len(v.layers))
	}
	for _, l := range v.layers {
		if len(l.URLs) > 0 || strings.HasSuffix(l.MediaType, "+encrypted") {
			return "foreign or encrypted layer " + l.Digest.String()
		}
		if l.Digest.Validate() != nil || l.Digest.Algorithm() != digest.SHA256 {
			return "layer digest " + l.Digest.String()
		}
	}
	for _, id := range v.diffIDs {
		if id.Validate() != nil || id.Algorithm() != digest.SHA256 {
			return "diff ID " + id.String()
		}
	}
	if !signaturesUnneeded(policy) {
		return "the signature policy verifies signatures"
	}
	return ""
}

// signaturesUnneeded reports whether every requirement of the policy, for
// any image, is insecureAcceptAnything or reject: then no signature is
// read, and there is none to store beside the image.
func signaturesUnneeded(p *signature.Policy) bool {
	raw, err := json.Marshal(p)
	if err != nil {
		return false
	}
	var doc struct {
		Default    []struct{ Type string }                       `json:"default"`
		Transports map[string]map[string][]struct{ Type string } `json:"transports"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return false
	}
	ok := func(reqs []struct{ Type string }) bool {
		for _, r := range reqs {
			if r.Type != "insecureAcceptAnything" && r.Type != "reject" {
				return false
			}
		}
		return true
	}
	if !ok(doc.Default) {
		return false
	}
	for _, scopes := range doc.Transports {
		for _, reqs := range scopes {
			if !ok(reqs) {
				return false
			}
		}
	}
	return true
}

// layerChainID is go.podman.io/image's storage layer ID of a layer
// identified by its DiffID on top of parent.
func layerChainID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	return digest.Canonical.FromString(parent + "+" + diffID.Encoded()).Encoded()
}

// pullDirect stores the vetted image under named and returns its ID.
func (s *Service) pullDirect(ctx context.Context, v *vetted, named reference.Named, sys *types.SystemContext, parallel int, touch func()) (string, pullTimes, error) {
	var times pullTimes
	start := time.Now()
	ids := make([]string, len(v.layers))
	parent := ""
	for i, id := range v.diffIDs {
		ids[i] = layerChainID(parent, id)
		parent = ids[i]
	}

	// Download and stage every missing layer, in parallel (or fetch each
	// into a file, for PutLayer); register them in order.
	type layerResult struct {
		fetched bool   // false for a layer already stored
		path    string // the verified blob, for PutLayer
		staged  stagedLayer
		err     error
	}
	ctx, cancel := context.WithCancel(ctx)
	results := make([]chan layerResult, len(v.layers))
	var workers sync.WaitGroup
	defer func() {
		// On an early return: stop the workers and remove what they
		// downloaded or staged that was not registered.
		cancel()
		workers.Wait()
		for _, ch := range results {
			select {
			case r := <-ch:
				if r.path != "" {
					os.Remove(r.path)
				}
				s.dropStaged(r.staged.out)
			default:
			}
		}
	}()
	staging := s.canStage()
	fetchSem := make(chan struct{}, max(parallel, 1))
	var busy busyClock
	var lastFetch atomic.Int64
	for i, l := range v.layers {
		results[i] = make(chan layerResult, 1)
		if s.layerPresent(ids[i]) {
			results[i] <- layerResult{}
			continue
		}
		workers.Add(1)
		go func() {
			defer workers.Done()
			select {
			case fetchSem <- struct{}{}:
			case <-ctx.Done():
				results[i] <- layerResult{err: ctx.Err()}
				return
			}
			defer func() { <-fetchSem }()
			r := layerResult{fetched: true, staged: stagedLayer{err: errNoStaging}}
			if staging {
				busy.enter()
				r.staged = s.stageLayer(ctx, v.src, l, v.diffIDs[i], sys.BigFilesTemporaryDir, touch)
				busy.leave()
			}
			if errors.Is(r.staged.err, errNoStaging) {
				r.path, r.err = s.fetchBlob(ctx, v.src, l, sys.BigFilesTemporaryDir, touch)
			}
			lastFetch.Store(int64(time.Since(start)))
			results[i] <- r
		}()
	}

	// With staging, wait until every layer is staged before registering
	// any: a layer that fails (its DiffID, its tar) leaves nothing
	// registered. Registering a staged layer is a rename and a metadata
	// write. (PutLayer, for a driver that cannot stage, registers each
	// layer as it comes, as before.)
	got := make([]*layerResult, len(v.layers))
	defer func() {
		for _, r := range got {
			if r != nil {
				if r.path != "" {
					os.Remove(r.path)
				}
				s.dropStaged(r.staged.out)
			}
		}
	}()
	if staging {
		for i := range v.layers {
			r := <-results[i]
			got[i] = &r
			if r.err != nil {
				return "", times, r.err
			}
			if r.staged.err != nil && !errors.Is(r.staged.err, errNoStaging) {
				return "", times, r.staged.err
			}
		}
	}

	parent = ""
	var inherit rootAttrs // the root directory of parent's contents
	inheritKnown := false
	for i, l := range v.layers {
		if got[i] == nil {
			r := <-results[i]
			got[i] = &r
		}
		r := got[i]
		err := r.err
		if err == nil && r.fetched {
			times.decompress += r.staged.decomp
			switch {
			case errors.Is(r.staged.err, errNoStaging):
				busy.enter()
				var d pullTimes
				d, err = s.applyLayer(ctx, r.path, ids[i], parent, l, v.diffIDs[i], touch)
				busy.leave()
				times.decompress += d.decompress
				inheritKnown = false
			case r.staged.err != nil:
				err = r.staged.err
			default:
				busy.enter()
				if !inheritKnown {
					inherit, err = s.layerRoot(parent)
				}
				if err == nil {
					next := inherit
					if r.staged.root != nil {
						next = *r.staged.root
					}
					var registered bool
					registered, err = s.commitStaged(r.staged, ids[i], parent, inherit)
					r.staged.out = nil // registered or dropped
					inherit, inheritKnown = next, registered
				}
				busy.leave()
			}
		}
		if err != nil {
			return "", times, err
		}
		if r.path != "" {
			os.Remove(r.path)
		}
		got[i] = nil
		parent = ids[i]
	}
	times.fetch = time.Duration(lastFetch.Load())

	busy.enter()
	id, err := s.commitImage(v, named, parent)
	busy.leave()
	times.commit = busy.total
	return id, times, err
}

// busyClock adds up the wall time during which at least one of its users
// is inside enter/leave.
type busyClock struct {
	mu     sync.Mutex
	active int
	since  time.Time
	total  time.Duration
}

func (b *busyClock) enter() {
	b.mu.Lock()
	if b.active == 0 {
		b.since = time.Now()
	}
	b.active++
	b.mu.Unlock()
}

func (b *busyClock) leave() {
	b.mu.Lock()
	b.active--
	if b.active == 0 {
		b.total += time.Since(b.since)
	}
	b.mu.Unlock()
}

// layerPresent reports whether the layer is stored and complete (storage
// deletes incomplete layers when it loads them; one of this process's own
// is invisible while storage holds its lock).
func (s *Service) layerPresent(id string) bool {
	_, err := s.store.Layer(id)
	return err == nil
}

// fetchBlob downloads one blob into a file in dir, checking its size and
// digest, and returns the file's path.
func (s *Service) fetchBlob(ctx context.Context, src types.ImageSource, info types.BlobInfo, dir string, touch func()) (path string, err error) {
	body, size, err := src.GetBlob(ctx, info, none.NoCache)
	if err != nil {
		return "", fmt.Errorf("fetching layer %s: %w", info.Digest, err)
	}
	defer body.Close()
	if size >= 0 && info.Size >= 0 && size != info.Size {
		return "", fmt.Errorf("%w: layer %s: registry sends %d bytes, the manifest says %d", ErrBadImage, info.Digest, size, info.Size)
	}
	f, err := os.CreateTemp(dir, "layer-")
	if err != nil {
		return "", fmt.Errorf("temporary file for layer %s: %w", info.Digest, err)
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	verifier := info.Digest.Verifier()
	limit := info.Size
	if limit < 0 {
		limit = maxUnsizedBlob
	}
	n, err := io.Copy(io.MultiWriter(f, verifier), &progressReader{ctx: ctx, r: io.LimitReader(body, limit+1), touch: touch})
	switch {
	case err != nil:
		return "", fmt.Errorf("fetching layer %s: %w", info.Digest, err)
	case n > limit:
		return "", fmt.Errorf("%w: layer %s is larger than the %d bytes the manifest says", ErrBadImage, info.Digest, limit)
	case info.Size >= 0 && n != info.Size:
		return "", fmt.Errorf("%w: layer %s has %d bytes, the manifest says %d", ErrBadImage, info.Digest, n, info.Size)
	case !verifier.Verified():
		return "", fmt.Errorf("%w: layer %s: downloaded content does not match its digest", ErrBadImage, info.Digest)
	}
	return f.Name(), nil
}

// maxUnsizedBlob bounds a layer whose manifest gives no size.
const maxUnsizedBlob = 64 << 30

// applyLayer decompresses the verified blob at path into storage as layer
// id on parent, checking its DiffID before storage commits it.
func (s *Service) applyLayer(ctx context.Context, path, id, parent string, info types.BlobInfo, diffID digest.Digest, touch func()) (pullTimes, error) {
	var times pullTimes
	f, err := os.Open(path)
	if err != nil {
		return times, err
	}
	defer f.Close()
	start := time.Now()
	plain, _, err := compression.AutoDecompress(f)
	if err != nil {
		return times, fmt.Errorf("%w: layer %s: %v", ErrBadImage, info.Digest, err)
	}
	defer plain.Close()
	tr := &timedReader{r: plain}
	diff := &diffIDReader{r: &progressReader{ctx: ctx, r: tr, touch: touch}, want: diffID, layer: info.Digest, h: digest.Canonical.Digester()}
	size := info.Size
	_, _, err = s.store.PutLayer(id, parent, nil, "", false, &cstorage.LayerOptions{
		OriginalDigest:     info.Digest,
		OriginalSize:       &size,
		UncompressedDigest: diffID,
	}, diff)
	times.decompress = tr.spent
	times.commit = time.Since(start) - tr.spent
	if errors.Is(err, cstorage.ErrDuplicateID) {
		return times, nil // a concurrent pull stored it
	}
	if err != nil {
		if diff.err != nil {
			return times, diff.err
		}
		// storage unpacks in a child process and only hands back its
		// output ("unpacking failed (error: exit status 1; output: no
		// such file or directory)"): name the member that made it fail.
		if strings.Contains(err.Error(), "unpacking failed") {
			why := diagnoseLayer(path)
			if why == "" {
				why = "storage could not unpack it"
			}
			return times, fmt.Errorf("%w: layer %s: %s: %v", ErrBadImage, info.Digest, why, err)
		}
		return times, fmt.Errorf("storing layer %s: %w", info.Digest, err)
	}
	return times, nil
}

// diagnoseLayer reads the layer at path again, after storage refused to
// unpack it, for the member storage cannot unpack: a tar type it does not
// handle (old-GNU sparse files, say) or a hard link to a file the layer
// did not hold before it (links resolve inside the layer: "../x" and
// "/etc/passwd" both mean the layer's own /x and /etc/passwd). "" when it
// finds none.
func diagnoseLayer(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	plain, _, err := compression.AutoDecompress(f)
	if err != nil {
		return ""
	}
	defer plain.Close()
	tr := tar.NewReader(plain)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return ""
			}
			return fmt.Sprintf("the layer is not a valid tar: %v", err)
		}
		name := filepath.Join("/", h.Name)
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo, tar.TypeXGlobalHeader:
		case tar.TypeLink:
			if !seen[filepath.Join("/", h.Linkname)] {
				return fmt.Sprintf("hard link %q -> %q: the target is not a file of the layer", h.Name, h.Linkname)
			}
		default:
			return fmt.Sprintf("member %q has tar type %q, which storage cannot unpack", h.Name, h.Typeflag)
		}
		if h.Typeflag != tar.TypeDir {
			seen[name] = true
		}
	}
}

// diffIDReader fails the read that reaches the end of the stream when the
// stream's digest is not want, so that storage discards the layer.
type diffIDReader struct {
	r     io.Reader
	want  digest.Digest
	layer digest.Digest
	h     digest.Digester
	err   error
}

func (d *diffIDReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	d.h.Hash().Write(p[:n])
	if err == io.EOF && d.h.Digest() != d.want {
		d.err = fmt.Errorf("%w: layer %s unpacks to %s, the config says %s", ErrBadImage, d.layer, d.h.Digest(), d.want)
		return n, d.err
	}
	return n, err
}

// timedReader adds up the time spent in r's Read.
type timedReader struct {
	r     io.Reader
	spent time.Duration
}

func (t *timedReader) Read(p []byte) (int, error) {
	start := time.Now()
	n, err := t.r.Read(p)
	t.spent += time.Since(start)
	return n, err
}

// progressReader reports progress to the stall watch and stops reading
// when the pull is cancelled (storage's unpacking takes no context).
type progressReader struct {
	ctx   context.Context
	r     io.Reader
	touch func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	if n > 0 && p.touch != nil {
		p.touch()
	}
	return n, err
}

// commitImage creates (or updates) the image record on top, with the
// records go.podman.io/image's storage destination writes.
func (s *Service) commitImage(v *vetted, named reference.Named, top string) (string, error) {
	id := v.configInfo.Digest.Encoded()
	opts := &cstorage.ImageOptions{}
	if v.created != nil {
		opts.CreationDate = *v.created
	}
	add := func(key string, data []byte, d digest.Digest) {
		opts.BigData = append(opts.BigData, cstorage.ImageBigDataOption{Key: key, Data: data, Digest: d})
	}
	add(v.configInfo.Digest.String(), v.config, v.configInfo.Digest)
	if !bytes.Equal(v.top, v.inst) {
		add(cstorage.ImageDigestManifestBigDataNamePrefix+"-"+v.topDigest.String(), v.top, v.topDigest)
	}
	add(cstorage.ImageDigestManifestBigDataNamePrefix+"-"+v.instDigest.String(), v.inst, v.instDigest)
	add(cstorage.ImageDigestBigDataKey, v.inst, v.instDigest)
	opts.Metadata = "{}" // go.podman.io/image's metadata with no signatures

	img, err := s.store.CreateImage(id, nil, top, "", opts)
	created := err == nil
	if errors.Is(err, cstorage.ErrDuplicateID) {
		img, err = s.store.Image(id)
		if err != nil {
			return "", fmt.Errorf("reading image %s: %w", id, err)
		}
		if img.TopLayer != top {
			return "", fmt.Errorf("image %s already exists with a different top layer: %w", id, cstorage.ErrDuplicateID)
		}
		for _, b := range opts.BigData {
			if err := s.store.SetImageBigData(id, b.Key, b.Data, manifest.Digest); err != nil {
				return "", fmt.Errorf("saving %s of image %s: %w", b.Key, id, err)
			}
		}
	} else if err != nil {
		return "", fmt.Errorf("creating image %s: %w", id, err)
	}
	if err := s.store.AddNames(img.ID, []string{named.String()}); err != nil {
		if created {
			if _, derr := s.store.DeleteImage(img.ID, true); derr != nil {
				s.log.Warn("removing the image of a failed pull", "id", img.ID, "error", derr)
			}
		}
		return "", fmt.Errorf("naming image %s %s: %w", id, named, err)
	}
	return img.ID, nil
}
