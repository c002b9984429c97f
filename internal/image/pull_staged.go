package image

import (
	stdtar "archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/archive/tar"
	"github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/tarlog"
	"go.podman.io/storage/pkg/unshare"

	"github.com/crio/crio/internal/layerapply"
)

// Staged layers. PutLayer unpacks a layer only once its parent exists,
// so the layers of a pull are unpacked one after the other. Instead, each
// layer is unpacked, as it is downloaded, into a staging directory of the
// storage driver (storage's PrepareStagedLayer with layerDiffer, several
// at once), and the layer records are then created from the staged
// directories in parent order (ApplyStagedLayer, which renames the
// directory into place: the record is created with storage's incomplete
// flag first, so a pull killed at any point leaves no half-made layer;
// the staging directories a killed pull leaves are removed when storage
// shuts down, or by the check after an unclean shutdown).
//
// layerDiffer unpacks in this process with layerapply.Apply, which
// resolves every member inside the staging directory (openat2
// RESOLVE_IN_ROOT) as storage's chrooted child does, with the overlay
// whiteout conversion; with options it does not cover (rootless, ID
// mappings, a forced mask, the AUFS whiteout format) it unpacks with
// chrootarchive.UntarUncompressed, the re-executed, chrooted child
// PutLayer uses. Either way hostile archives stay as harmless. It records what PutLayer's applyDiff records: the DiffID
// and the blob's digest and size (all checked before anything is
// registered), the uncompressed size, the UIDs and GIDs of the members,
// and the tar-split that Diff and exports rebuild the layer tar from. Not
// the compressed size: ApplyStagedLayer has no way to record it (a staged
// layer has none, as storage's own partial pulls).

// errNoStaging says that the driver cannot stage a layer this way (no
// differ support, composefs' flat layout): the pull uses PutLayer.
var errNoStaging = errors.New("the storage driver cannot stage this layer")

// stagedLayer is a layer unpacked into a staging directory, not yet
// registered.
type stagedLayer struct {
	out    *drivers.DriverWithDifferOutput
	root   *rootAttrs // the layer's root directory as its tar sets it, nil when it does not
	decomp time.Duration
	err    error
}

// rootAttrs is a directory's mode and owner.
type rootAttrs struct {
	mode     os.FileMode
	uid, gid int
}

// layerDiffer unpacks one blob, as it is downloaded, for
// PrepareStagedLayer. finish reads what is left of the blob and checks
// its size and digest: the staged layer is kept only when both digests
// match.
type layerDiffer struct {
	blob   io.Reader
	finish func() error
	info   types.BlobInfo
	diffID digest.Digest
	wrap   func(io.Reader) io.Reader // progress and cancellation
	chroot bool                      // unpack in storage's chrooted child even when Apply could

	decomp time.Duration
	root   *rootAttrs
	err    error // the layer's own fault, as opposed to storage's
}

func (d *layerDiffer) Close() error { return nil }

func (d *layerDiffer) ApplyDiff(dest string, opts *archive.TarOptions, dopts *drivers.DifferOptions) (out drivers.DriverWithDifferOutput, retErr error) {
	if dopts == nil || dopts.Format != drivers.DifferOutputFormatDir || opts.ForceMask != nil ||
		len(opts.UIDMaps) > 0 || len(opts.GIDMaps) > 0 {
		return out, errNoStaging
	}
	// Whatever goes wrong, a blob that does not match its digest is
	// reported as that first.
	defer func() {
		if retErr == nil || errors.Is(retErr, context.Canceled) || errors.Is(retErr, context.DeadlineExceeded) {
			return
		}
		if err := d.finish(); err != nil {
			d.err, retErr = err, err
		}
	}()
	plain, _, err := compression.AutoDecompress(d.blob)
	if err != nil {
		d.err = fmt.Errorf("%w: layer %s: %v", ErrBadImage, d.info.Digest, err)
		return out, d.err
	}
	defer plain.Close()
	tr := &timedReader{r: plain}
	defer func() { d.decomp = tr.spent }()

	// The tar-split, uncompressed: ApplyStagedLayer compresses it into
	// the layer's record. An unlinked file in the staging directory: it
	// goes with the descriptor, whatever happens.
	ts, err := os.CreateTemp(dopts.StagingDirectory, "tar-split-")
	if err != nil {
		return out, err
	}
	os.Remove(ts.Name())
	defer func() {
		if retErr != nil {
			ts.Close()
		}
	}()

	uids, gids := map[uint32]struct{}{}, map[uint32]struct{}{}
	onHeader := func(name string, typ byte, uid, gid int) {
		if !strings.HasPrefix(path.Base(name), archive.WhiteoutPrefix) {
			uids[uint32(uid)] = struct{}{}
			gids[uint32(gid)] = struct{}{}
		}
		if typ == tar.TypeDir && path.Clean("/"+name) == "/" {
			d.root = &rootAttrs{}
		}
	}
	inProcess := !d.chroot && inProcessApplies(opts)
	// Storage's child reads the tar on its side: the owners and the root
	// directory are read from a copy of the stream by a second tar reader
	// (a pipe and a goroutine). Apply hands over its own headers instead.
	var idLogger io.WriteCloser = nopWriteCloser{}
	if !inProcess {
		idLogger, err = tarlog.NewLogger(func(h *tar.Header) { onHeader(h.Name, h.Typeflag, h.Uid, h.Gid) })
		if err != nil {
			return out, err
		}
	}
	loggerOpen := true
	defer func() {
		if loggerOpen {
			idLogger.Close()
		}
	}()
	h := digest.Canonical.Digester()
	var size countWriter
	src := &errReader{r: d.wrap(tr)}
	var stream io.Reader = io.TeeReader(src, io.MultiWriter(h.Hash(), &size))
	if !inProcess {
		stream = io.TeeReader(stream, idLogger)
	}
	packed := bufio.NewWriterSize(ts, 32<<10)
	payload, done, err := asm.NewInputTarStreamWithDone(stream, tsstorage.NewJSONPacker(packed), tsstorage.NewDiscardFilePutter())
	if err != nil {
		return out, err
	}
	var untarErr error
	if inProcess {
		untarErr = layerapply.Apply(payload, dest, func(h *stdtar.Header) { onHeader(h.Name, h.Typeflag, h.Uid, h.Gid) })
	} else {
		untarErr = chrootarchive.UntarUncompressed(payload, dest, opts)
	}
	if untarErr == nil {
		// The trailing padding belongs in the DiffID and the tar-split.
		_, untarErr = io.Copy(io.Discard, payload)
	}
	payload.Close()
	splitErr := <-done
	loggerOpen = false
	idLogger.Close()
	if src.err != nil {
		// Cancelled, or a blob (verified) that does not decompress.
		if errors.Is(src.err, context.Canceled) || errors.Is(src.err, context.DeadlineExceeded) {
			return out, src.err
		}
		d.err = fmt.Errorf("%w: layer %s: %v", ErrBadImage, d.info.Digest, src.err)
		return out, d.err
	}
	if untarErr == nil && splitErr == nil {
		if err := d.finish(); err != nil {
			d.err = err
			return out, err
		}
	}
	if untarErr == nil && splitErr == nil && h.Digest() != d.diffID {
		d.err = fmt.Errorf("%w: layer %s unpacks to %s, the config says %s", ErrBadImage, d.info.Digest, h.Digest(), d.diffID)
		return out, d.err
	}
	if errors.Is(untarErr, layerapply.ErrMember) {
		d.err = fmt.Errorf("%w: layer %s: %v", ErrBadImage, d.info.Digest, untarErr)
		return out, d.err
	}
	if untarErr != nil {
		return out, untarErr
	}
	if splitErr != nil {
		d.err = fmt.Errorf("%w: layer %s: %v", ErrBadImage, d.info.Digest, splitErr)
		return out, d.err
	}
	if err := packed.Flush(); err != nil {
		return out, err
	}
	if d.root != nil {
		st, err := os.Lstat(dest)
		if err != nil {
			return out, err
		}
		sys := st.Sys().(*syscall.Stat_t)
		*d.root = rootAttrs{mode: st.Mode(), uid: int(sys.Uid), gid: int(sys.Gid)}
	}

	out.Size = size.n
	out.UncompressedDigest = d.diffID
	out.CompressedDigest = d.info.Digest
	out.UIDs = slices.Sorted(func(yield func(uint32) bool) {
		for u := range uids {
			if !yield(u) {
				return
			}
		}
	})
	out.GIDs = slices.Sorted(func(yield func(uint32) bool) {
		for g := range gids {
			if !yield(g) {
				return
			}
		}
	})
	out.TarSplit = ts
	return out, nil
}

// inProcessApplies reports whether layerapply.Apply unpacks as storage
// would with opts: the overlay driver's options as root, with the kernel's
// whiteouts and nothing remapped, masked or excluded.
func inProcessApplies(opts *archive.TarOptions) bool {
	return opts.WhiteoutFormat == archive.OverlayWhiteoutFormat && opts.WhiteoutData == nil &&
		!opts.InUserNS && !opts.IgnoreChownErrors && !opts.NoLchown && opts.ChownOpts == nil &&
		opts.ForceMask == nil && len(opts.UIDMaps) == 0 && len(opts.GIDMaps) == 0 &&
		len(opts.ExcludePatterns) == 0 && !unshare.IsRootless()
}

// stageLayer downloads the blob of a layer and unpacks it, as it comes,
// into a staging directory. On an error nothing is left staged.
func (s *Service) stageLayer(ctx context.Context, src types.ImageSource, info types.BlobInfo, diffID digest.Digest, tmpDir string, touch func()) stagedLayer {
	wrap := func(r io.Reader) io.Reader { return &progressReader{ctx: ctx, r: r, touch: touch} }
	body, size, err := src.GetBlob(ctx, info, none.NoCache)
	if err != nil {
		return stagedLayer{err: fmt.Errorf("fetching layer %s: %w", info.Digest, err)}
	}
	defer body.Close()
	if size >= 0 && info.Size >= 0 && size != info.Size {
		return stagedLayer{err: fmt.Errorf("%w: layer %s: registry sends %d bytes, the manifest says %d", ErrBadImage, info.Digest, size, info.Size)}
	}
	limit := info.Size
	if limit < 0 {
		limit = maxUnsizedBlob
	}
	verifier := info.Digest.Verifier()
	var n countWriter
	blob := io.TeeReader(wrap(io.LimitReader(body, limit+1)), io.MultiWriter(verifier, &n))
	finished, finishErr := false, error(nil)
	finish := func() error {
		if finished {
			return finishErr
		}
		finished = true
		_, err := io.Copy(io.Discard, blob)
		switch {
		case err != nil:
			finishErr = fmt.Errorf("fetching layer %s: %w", info.Digest, err)
		case n.n > limit:
			finishErr = fmt.Errorf("%w: layer %s is larger than the %d bytes the manifest says", ErrBadImage, info.Digest, limit)
		case info.Size >= 0 && n.n != info.Size:
			finishErr = fmt.Errorf("%w: layer %s has %d bytes, the manifest says %d", ErrBadImage, info.Digest, n.n, info.Size)
		case !verifier.Verified():
			finishErr = fmt.Errorf("%w: layer %s: downloaded content does not match its digest", ErrBadImage, info.Digest)
		}
		return finishErr
	}
	d := &layerDiffer{blob: blob, finish: finish, info: info, diffID: diffID, wrap: wrap, chroot: s.chrootApply}
	out, err := s.store.PrepareStagedLayer(nil, d)
	st := stagedLayer{out: out, root: d.root, decomp: d.decomp}
	if err != nil {
		s.dropStaged(out)
		st.out = nil
		switch {
		case d.err != nil:
			st.err = d.err
		case errors.Is(err, errNoStaging), errors.Is(err, cstorage.ErrNotSupported), errors.Is(err, drivers.ErrNotSupported):
			st.err = errNoStaging
		case ctx.Err() != nil:
			st.err = ctx.Err()
		case strings.Contains(err.Error(), "unpacking failed"):
			// storage's child only hands back its output: name the
			// member that made it fail, from a copy of the blob.
			why := ""
			if path, ferr := s.fetchBlob(ctx, src, info, tmpDir, touch); ferr == nil {
				why = diagnoseLayer(path)
				os.Remove(path)
			}
			if why == "" {
				why = "storage could not unpack it"
			}
			st.err = fmt.Errorf("%w: layer %s: %s: %v", ErrBadImage, info.Digest, why, err)
		default:
			st.err = fmt.Errorf("staging layer %s: %w", info.Digest, err)
		}
	}
	return st
}

// dropStaged removes a staged layer that is not to be registered.
func (s *Service) dropStaged(out *drivers.DriverWithDifferOutput) {
	if out == nil {
		return
	}
	if out.Target == "" {
		if out.TarSplit != nil {
			out.TarSplit.Close()
		}
		return
	}
	if err := s.store.CleanupStagedLayer(out); err != nil {
		s.log.Warn("removing a staged layer", "dir", out.Target, "error", err)
	}
}

// commitStaged registers the staged layer as id on parent, and reports
// whether it did (false: the layer was stored meanwhile, by another pull;
// the staged copy is dropped). inherit is the root directory of parent's
// contents: a layer whose tar does not set its root directory gets its
// parent's, as PutLayer makes it.
func (s *Service) commitStaged(st stagedLayer, id, parent string, inherit rootAttrs) (bool, error) {
	s.stagedCommit.Lock()
	defer s.stagedCommit.Unlock()
	// ApplyStagedLayer over an existing layer would replace its files
	// (which containers may be using): a concurrent pull in this
	// process stored the layer meanwhile.
	if s.layerPresent(id) {
		s.dropStaged(st.out)
		return false, nil
	}
	if st.root == nil {
		err := os.Chown(st.out.Target, inherit.uid, inherit.gid)
		if err == nil {
			err = os.Chmod(st.out.Target, inherit.mode)
		}
		if err != nil {
			s.dropStaged(st.out)
			return false, fmt.Errorf("staged layer %s: %w", id, err)
		}
	}
	mode := inherit.mode
	if st.root != nil {
		mode = st.root.mode
	}
	st.out.RootDirMode = &mode // set, so that storage leaves it as it is
	stagingDir := filepath.Dir(st.out.Target)
	_, err := s.store.ApplyStagedLayer(cstorage.ApplyStagedLayerOptions{
		ID:          id,
		ParentLayer: parent,
		DiffOutput:  st.out,
		DiffOptions: &drivers.ApplyDiffWithDifferOpts{},
	})
	if err != nil {
		s.dropStaged(st.out)
		if errors.Is(err, cstorage.ErrDuplicateID) {
			return false, nil
		}
		return false, fmt.Errorf("storing layer %s: %w", id, err)
	}
	// The staged directory was renamed into the layer; its (now empty)
	// parent would otherwise stay until storage shuts down.
	os.Remove(stagingDir)
	return true, nil
}

// canStage reports whether layers can be staged in this store: a driver
// with differ support (overlay), and no ID mappings to apply.
func (s *Service) canStage() bool {
	if s.noStaging {
		return false
	}
	d, err := s.store.GraphDriver()
	if err != nil {
		return false
	}
	if _, ok := d.(drivers.DriverWithDiffer); !ok {
		return false
	}
	return len(s.store.UIDMap()) == 0 && len(s.store.GIDMap()) == 0
}

// layerRoot is the mode and owner of layer id's root directory, or of an
// empty root (no parent).
func (s *Service) layerRoot(id string) (rootAttrs, error) {
	if id == "" {
		return rootAttrs{mode: os.ModeDir | 0o555}, nil
	}
	dir, err := s.store.DifferTarget(id)
	if err != nil {
		return rootAttrs{}, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return rootAttrs{}, err
	}
	sys := st.Sys().(*syscall.Stat_t)
	return rootAttrs{mode: st.Mode(), uid: int(sys.Uid), gid: int(sys.Gid)}, nil
}

// errReader keeps the first error other than io.EOF that r returned.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

type nopWriteCloser struct{}

func (nopWriteCloser) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriteCloser) Close() error                { return nil }

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
