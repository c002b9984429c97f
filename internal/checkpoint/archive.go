package checkpoint

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	metadata "github.com/checkpoint-restore/checkpointctl/lib"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CRIConfigFile holds the container's CRI ContainerConfig (protojson),
// which a restore builds the new container from. CRI-O keeps the same
// facts in spec.dump's io.kubernetes.cri-o.* annotations, which are
// written too.
const CRIConfigFile = "cri-container-config.json"

// ErrExists says the archive's location is taken.
var ErrExists = errors.New("checkpoint location already exists")

// ErrBadArchive says an archive is not a checkpoint this daemon can
// restore, or breaks the rules a hostile archive is held to.
var ErrBadArchive = errors.New("bad checkpoint archive")

// Metadata is what an archive says besides CRIU's images.
type Metadata struct {
	// Config is config.dump: the container's identity and image.
	Config metadata.ContainerConfig
	// Spec is spec.dump: the OCI spec the container ran with.
	Spec *rspec.Spec
	// CRI is the CRI config the container was created with.
	CRI *runtimeapi.ContainerConfig
}

// Work is the directory a checkpoint is assembled in before it becomes
// an archive: beside the archive's location, so that the archive is
// renamed into place on the same file system.
type Work struct {
	Dir      string
	location string
}

// NewWork checks that location is free and its directory writable, and
// makes the work directory beside it.
func NewWork(location string) (*Work, error) {
	if location == "" || !filepath.IsAbs(location) {
		return nil, fmt.Errorf("checkpoint location %q must be an absolute path", location)
	}
	location = filepath.Clean(location)
	if _, err := os.Lstat(location); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, location)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint location: %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(location), "."+filepath.Base(location)+".work-")
	if err != nil {
		return nil, fmt.Errorf("checkpoint location %s: %w", location, err)
	}
	return &Work{Dir: dir, location: location}, nil
}

// ImagePath is where CRIU writes its images.
func (w *Work) ImagePath() string { return filepath.Join(w.Dir, metadata.CheckpointDirectory) }

// Discard removes the work directory.
func (w *Work) Discard() { os.RemoveAll(w.Dir) }

// WriteMetadata writes config.dump, spec.dump and the CRI config.
func (w *Work) WriteMetadata(md *Metadata) error {
	if _, err := metadata.WriteJSONFile(&md.Config, w.Dir, metadata.ConfigDumpFile); err != nil {
		return fmt.Errorf("writing %s: %w", metadata.ConfigDumpFile, err)
	}
	if _, err := metadata.WriteJSONFile(md.Spec, w.Dir, metadata.SpecDumpFile); err != nil {
		return fmt.Errorf("writing %s: %w", metadata.SpecDumpFile, err)
	}
	b, err := protojson.Marshal(md.CRI)
	if err != nil {
		return fmt.Errorf("encoding the CRI config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(w.Dir, CRIConfigFile), b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", CRIConfigFile, err)
	}
	return nil
}

// Commit writes the work directory as an uncompressed tar archive to a
// temporary file beside the location, syncs it and links it into place,
// which fails when something took the location meanwhile: the archive is
// there whole or not at all. The work directory is removed either way.
// It returns the archive's size.
func (w *Work) Commit() (int64, error) {
	defer w.Discard()
	tmp, err := os.CreateTemp(filepath.Dir(w.location), "."+filepath.Base(w.location)+".tmp-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := writeTar(tmp, w.Dir); err != nil {
		return 0, fmt.Errorf("writing the checkpoint archive: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	fi, err := tmp.Stat()
	if err != nil {
		return 0, err
	}
	if err := os.Link(tmp.Name(), w.location); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, fmt.Errorf("%w: %s", ErrExists, w.location)
		}
		return 0, fmt.Errorf("placing the checkpoint archive: %w", err)
	}
	if d, err := os.Open(filepath.Dir(w.location)); err == nil {
		d.Sync()
		d.Close()
	}
	return fi.Size(), nil
}

// writeTar writes the tree under root (directories and regular files,
// which is all a checkpoint holds) with names relative to it.
func writeTar(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return nil // CRIU's work files (sockets) are not part of it
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Limits bound what an archive may unpack to.
type Limits struct {
	// MaxMember is the largest member (file) accepted.
	MaxMember int64
	// MaxTotal is the most bytes unpacked in all.
	MaxTotal int64
	// MaxEntries is the most members accepted.
	MaxEntries int
}

// DefaultLimits hold a container's memory image and rootfs changes of a
// few tens of GiB.
var DefaultLimits = Limits{MaxMember: 32 << 30, MaxTotal: 64 << 30, MaxEntries: 1 << 20}

// Extract unpacks the checkpoint archive at path into dest, an empty
// directory, holding the archive to what a checkpoint is: directories
// and regular files only, no name out of dest, sizes within lim. It then
// reads the metadata.
func Extract(path, dest string, lim Limits) (*Metadata, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ExtractFrom(f, dest, lim)
}

// ExtractFrom is Extract of an archive read from r: the uncompressed
// layer of a checkpoint image holds the same members.
func ExtractFrom(r io.Reader, dest string, lim Limits) (*Metadata, error) {
	tr := tar.NewReader(r)
	var total int64
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		if n >= lim.MaxEntries {
			return nil, fmt.Errorf("%w: more than %d members", ErrBadArchive, lim.MaxEntries)
		}
		name, err := memberName(hdr.Name)
		if err != nil {
			return nil, err
		}
		if name == "" {
			continue
		}
		target := filepath.Join(dest, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return nil, err
			}
		case tar.TypeReg:
			if hdr.Size > lim.MaxMember {
				return nil, fmt.Errorf("%w: member %s is %d bytes, over the limit of %d", ErrBadArchive, name, hdr.Size, lim.MaxMember)
			}
			if total += hdr.Size; total > lim.MaxTotal {
				return nil, fmt.Errorf("%w: members add up to over %d bytes", ErrBadArchive, lim.MaxTotal)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return nil, err
			}
			if err := writeMember(target, tr, hdr.Size); err != nil {
				return nil, fmt.Errorf("unpacking %s: %w", name, err)
			}
		default:
			return nil, fmt.Errorf("%w: member %s is not a file or directory (type %q)", ErrBadArchive, name, hdr.Typeflag)
		}
	}
	return ReadMetadata(dest)
}

// memberName cleans a member's name; an absolute name or one with a ".."
// element is refused. "" is the archive's root.
func memberName(n string) (string, error) {
	s := filepath.ToSlash(n)
	if strings.HasPrefix(s, "/") || slices.Contains(strings.Split(s, "/"), "..") {
		return "", fmt.Errorf("%w: member name %q leaves the archive's root", ErrBadArchive, n)
	}
	if c := filepath.Clean(s); c != "." {
		return c, nil
	}
	return "", nil
}

// writeMember creates target (which must not exist) with exactly size
// bytes from r.
func writeMember(target string, r io.Reader, size int64) error {
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, io.LimitReader(r, size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// ReadMetadata reads an unpacked checkpoint's metadata with
// checkpointctl's readers.
func ReadMetadata(dir string) (*Metadata, error) {
	cfg, _, err := metadata.ReadContainerCheckpointConfigDump(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, metadata.ConfigDumpFile, err)
	}
	sp, _, err := metadata.ReadContainerCheckpointSpecDump(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, metadata.SpecDumpFile, err)
	}
	b, err := readSmall(filepath.Join(dir, CRIConfigFile), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v (not made by this runtime?)", ErrBadArchive, CRIConfigFile, err)
	}
	cri := &runtimeapi.ContainerConfig{}
	if err := protojson.Unmarshal(b, cri); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, CRIConfigFile, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, metadata.CheckpointDirectory)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: no %s/ directory of CRIU images", ErrBadArchive, metadata.CheckpointDirectory)
	}
	return &Metadata{Config: *cfg, Spec: sp, CRI: cri}, nil
}

func readSmall(p string, max int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("over %d bytes", max)
	}
	return b, nil
}

// IsArchive says whether name is a local file a CreateContainer may
// restore from: an absolute path to a regular file (as CRI-O accepts).
func IsArchive(name string) bool {
	if !filepath.IsAbs(name) {
		return false
	}
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}
