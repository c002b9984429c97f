package image

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	iimage "go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"

	"github.com/crio/crio/internal/config"
	"github.com/crio/crio/internal/failpoint"
	"github.com/crio/crio/internal/version"
)

// Auth is the credentials of one pull request (the CRI AuthConfig).
type Auth struct {
	Username      string
	Password      string
	Auth          string // base64("username:password")
	IdentityToken string
	RegistryToken string
}

func (a *Auth) empty() bool {
	return a == nil || *a == Auth{}
}

// PullOptions are the per-request inputs of a pull.
type PullOptions struct {
	Auth *Auth
	// Namespace is the pod's namespace: a per-namespace signature policy
	// (crio.image.signature_policy_dir/<namespace>.json) applies when present.
	Namespace string
}

// Pull pulls name and returns the image ID. Concurrent pulls of the same
// name with the same credentials share one download.
func (s *Service) Pull(ctx context.Context, name string, o PullOptions) (id string, err error) {
	s.pulling.Add(1)
	defer s.releaseMemory()
	if s.onPull != nil {
		start := time.Now()
		defer func() {
			var size int64
			if err == nil {
				if img, serr := s.store.Image(id); serr == nil {
					size, _ = s.store.ImageSize(img.ID)
				}
			}
			s.onPull(size, time.Since(start), err)
		}()
	}
	if name == "" {
		return "", fmt.Errorf("%w: empty image name", ErrInvalidName)
	}
	if id := strings.TrimPrefix(name, "sha256:"); len(id) == 64 && isHex(id) {
		// A registry serves names, not local IDs; without this the ID
		// would be taken for docker.io/library/<id>.
		return "", fmt.Errorf("%w: %q is an image ID; pull by name (repo:tag or repo@digest)", ErrInvalidName, name)
	}
	cfg := s.config()
	sys, err := s.pullSystemContext(cfg, name, o)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(sys.BigFilesTemporaryDir, 0o700); err != nil {
		return "", fmt.Errorf("temporary directory for pulls: %w", err)
	}
	resolved, err := shortnames.Resolve(sys, name)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrInvalidName, name, err)
	}
	var errs []error
	for _, c := range resolved.PullCandidates {
		// No (*PullCandidate).Record: a daemon must not write the user's
		// short-name alias cache; aliases belong in registries.conf.
		id, err := s.pullShared(ctx, c.Value, cfg, sys, o)
		if err == nil {
			return id, nil
		}
		if ctx.Err() != nil {
			return "", err
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return "", errs[0]
	}
	return "", fmt.Errorf("%s: %w", resolved.Description(), errors.Join(errs...))
}

// pullShared joins an in-flight pull of the same reference and
// credentials, or starts one.
func (s *Service) pullShared(ctx context.Context, named reference.Named, cfg *config.Config, sys *types.SystemContext, o PullOptions) (string, error) {
	key := named.String() + "\x00" + credentialKey(sys) + "\x00" + policyPath(cfg, o.Namespace)
	return s.pulls.do(ctx, key, cfg.Limits.MaxConcurrentPulls, func(pctx context.Context) (string, error) {
		return s.pullOne(pctx, named, cfg, sys)
	},
		func() { s.log.Debug("joining an in-flight pull", "image", named.String()) },
		func() { s.log.Info("pull of " + named.String() + " cancelled: every caller gave up") })
}

// pullOne copies one fully-qualified reference into storage.
func (s *Service) pullOne(ctx context.Context, named reference.Named, cfg *config.Config, sys *types.SystemContext) (id string, err error) {
	timeout := cfg.Image.PullProgressTimeout.Std()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var progress chan types.ProgressProperties
	if timeout > 0 {
		progress = make(chan types.ProgressProperties)
		done := make(chan struct{})
		defer close(done)
		go watchProgress(progress, done, timeout, func() {
			cancel(fmt.Errorf("%w: pull of %s cancelled after no progress for %s (crio.image.pull_progress_timeout)", ErrStalled, named, timeout))
		})
	}
	defer func() {
		if err != nil && context.Cause(ctx) != nil && errors.Is(context.Cause(ctx), ErrStalled) {
			err = context.Cause(ctx)
		}
	}()

	policy, err := loadPolicy(cfg, sys)
	if err != nil {
		return "", err
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		return "", fmt.Errorf("signature policy: %w", err)
	}
	defer pc.Destroy()

	// registries.conf says a blocked registry's images may not be pulled;
	// go.podman.io/image only refuses to contact its location, which a
	// mirror bypasses. Refuse by name, before any traffic.
	if reg, err := sysregistriesv2.FindRegistry(sys, named.Name()); err != nil {
		return "", fmt.Errorf("reading registries.conf: %w", err)
	} else if reg != nil && reg.Blocked {
		return "", fmt.Errorf("%w: pulling %s: registry %s is blocked in %s", ErrBlocked, named, reg.Prefix, sysregistriesv2.ConfigurationSourceDescription(sys))
	}
	srcRef, err := docker.NewReference(named)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrInvalidName, named, err)
	}
	// Read and vet the config before anything is written, then copy the
	// exact manifest that was vetted (by digest), so a registry cannot
	// swap it between the check and the copy.
	v, err := s.vet(ctx, srcRef, sys)
	if err != nil {
		return "", classify(named, err)
	}
	defer v.Close()
	s.log.Info("pulling image", "image", named.String())
	start := time.Now()
	parallel := cfg.Image.MaxParallelDownloads
	if parallel <= 0 {
		parallel = defaultParallelDownloads
	}
	if directReason(v, policy) == "" {
		allowed, err := pc.IsRunningImageAllowed(ctx, iimage.UnparsedInstance(v.src, nil))
		if !allowed || err != nil {
			if err == nil {
				err = errors.New("the signature policy refuses it")
			}
			return "", classify(named, err)
		}
		touch := func() {}
		if progress != nil {
			touch = func() {
				select {
				case progress <- types.ProgressProperties{}:
				default:
				}
			}
		}
		id, times, err := s.pullDirect(ctx, v, named, sys, parallel, touch)
		if err != nil {
			return "", classify(named, err)
		}
		failpoint.Hit(failpoint.ImagePullAfterCopy)
		s.log.Info("pulled image", "image", named.String(), "id", id, "duration", time.Since(start).Round(time.Millisecond),
			"fetch", times.fetch.Round(time.Microsecond), "decompress", times.decompress.Round(time.Microsecond), "commit", times.commit.Round(time.Microsecond))
		return id, nil
	}
	s.log.Debug("pulling through go.podman.io/image's copy", "image", named.String(), "because", directReason(v, policy))
	destRef, err := istorage.Transport.NewStoreReference(s.store, named, "")
	if err != nil {
		return "", fmt.Errorf("storage reference for %s: %w", named, err)
	}
	opts := &copy.Options{
		SourceCtx:            sys,
		DestinationCtx:       sys,
		Progress:             progress,
		ProgressInterval:     progressInterval(timeout),
		MaxParallelDownloads: uint(parallel),
	}
	isEncrypted := encrypted(v.layers)
	if isEncrypted {
		if opts.OciDecryptConfig, err = decryptConfig(cfg.Runtime.DecryptionKeysPath); err != nil {
			return "", err
		}
	}
	_, err = copy.Image(ctx, pc, destRef, v.ref, opts)
	if err != nil {
		if isEncrypted && strings.Contains(err.Error(), "decrypting layer") {
			// ocicrypt's errors have no type to match.
			err = fmt.Errorf("image has encrypted layers and no key in crio.runtime.decryption_keys_path (%s) decrypts them: %w", cfg.Runtime.DecryptionKeysPath, err)
		}
		return "", classify(named, err)
	}
	failpoint.Hit(failpoint.ImagePullAfterCopy)
	img, err := istorage.Transport.GetStoreImage(s.store, destRef)
	if err != nil {
		return "", fmt.Errorf("finding %s after the pull: %w", named, err)
	}
	s.log.Info("pulled image", "image", named.String(), "id", img.ID, "duration", time.Since(start).Round(time.Millisecond))
	return img.ID, nil
}

// vet fetches the manifest and config, checks the config and the platform,
// and returns what it read, with the source still open, and a reference
// to the vetted manifest by digest.
func (s *Service) vet(ctx context.Context, ref types.ImageReference, sys *types.SystemContext) (_ *vetted, err error) {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			src.Close()
		}
	}()
	raw, _, err := src.GetManifest(ctx, nil)
	if err != nil {
		return nil, err
	}
	dgst, err := manifest.Digest(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrBadImage, err)
	}
	img, err := iimage.FromUnparsedImage(ctx, sys, iimage.UnparsedInstance(src, nil))
	if err != nil {
		return nil, err
	}
	layers := img.LayerInfos()
	if n := len(layers); n > maxLayers {
		return nil, fmt.Errorf("%w: manifest has %d layers, more than %d", ErrBadImage, n, maxLayers)
	}
	// go.podman.io/image would read 4 MiB of a bigger config and fail
	// with a bare "exceeded maximum allowed size": refuse it by its
	// declared size first, saying what is too big.
	if n := img.ConfigInfo().Size; n > maxConfigSize {
		return nil, fmt.Errorf("%w: config is %d bytes, more than the %d allowed", ErrBadImage, n, maxConfigSize)
	}
	oci, err := img.OCIConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	if err := ValidateConfig(oci); err != nil {
		return nil, err
	}
	wantOS, wantArch := sys.OSChoice, sys.ArchitectureChoice
	if (oci.OS != "" && oci.OS != wantOS) || (oci.Architecture != "" && oci.Architecture != wantArch) {
		return nil, fmt.Errorf("%w: image is for %s/%s, this node runs %s/%s", ErrBadImage, oci.OS, oci.Architecture, wantOS, wantArch)
	}
	inst, instMIME, err := img.Manifest(ctx)
	if err != nil {
		return nil, err
	}
	instDigest, err := manifest.Digest(inst)
	if err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrBadImage, err)
	}
	config, err := img.ConfigBlob(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the image config: %w", err)
	}
	named := ref.DockerReference()
	d, err := reference.WithDigest(reference.TrimNamed(named), dgst)
	if err != nil {
		return nil, err
	}
	pinned, err := docker.NewReference(d)
	if err != nil {
		return nil, err
	}
	return &vetted{
		ref: pinned, src: src,
		top: raw, topDigest: dgst,
		inst: inst, instDigest: instDigest, instMIME: instMIME,
		config: config, configInfo: img.ConfigInfo(),
		layers: layers, diffIDs: oci.RootFS.DiffIDs, created: oci.Created,
	}, nil
}

// watchProgress calls stall when no progress arrives for timeout, then
// keeps draining the channel: copy blocks on sending to it.
func watchProgress(progress <-chan types.ProgressProperties, done <-chan struct{}, timeout time.Duration, stall func()) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case <-progress:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
			t.Reset(timeout)
		case <-t.C:
			stall()
		case <-done:
			return
		}
	}
}

func progressInterval(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return 0
	}
	return max(timeout/10, 100*time.Millisecond)
}

// pullSystemContext builds the go.podman.io/image settings of one pull
// from the live config and the request.
func (s *Service) pullSystemContext(cfg *config.Config, name string, o PullOptions) (*types.SystemContext, error) {
	sys := s.systemContext(cfg)
	if !o.Auth.empty() {
		a, err := dockerAuth(o.Auth)
		if err != nil {
			return nil, err
		}
		if o.Auth.RegistryToken != "" {
			sys.DockerBearerRegistryToken = o.Auth.RegistryToken
		}
		if a != nil {
			sys.DockerAuthConfig = a
		}
		sys.AuthFilePath = ""
	} else if cfg.Image.PauseImageAuthFile != "" && name == cfg.Image.PauseImage {
		sys.AuthFilePath = cfg.Image.PauseImageAuthFile
	}
	if reg := registryOf(name); reg != "" && isInsecure(reg, cfg.Image.InsecureRegistries) {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	}
	if p := policyPath(cfg, o.Namespace); p != "" {
		sys.SignaturePolicyPath = p
	}
	return sys, nil
}

// systemContext is the base go.podman.io/image configuration: registries,
// auth file, policy, platform, temporary dir.
func (s *Service) systemContext(cfg *config.Config) *types.SystemContext {
	v, _ := version.Get()
	sys := &types.SystemContext{
		SystemRegistriesConfPath:    cfg.Image.RegistriesConf,
		SystemRegistriesConfDirPath: cfg.Image.RegistriesConfDir,
		SignaturePolicyPath:         cfg.Image.SignaturePolicy,
		AuthFilePath:                cfg.Image.GlobalAuthFile,
		BigFilesTemporaryDir:        s.tmpDir(cfg),
		BlobInfoCacheDir:            filepath.Join(s.store.GraphRoot(), "cache"),
		OSChoice:                    runtime.GOOS,
		ArchitectureChoice:          runtime.GOARCH,
		DockerRegistryUserAgent:     "crio/" + v,
	}
	mode := types.ShortNameModeEnforcing
	if cfg.Image.ShortNameMode == "disabled" {
		mode = types.ShortNameModeDisabled
	}
	sys.ShortNameMode = &mode
	if sys.SystemRegistriesConfDirPath == "" && sys.SystemRegistriesConfPath != "" {
		// Without this, the system's registries.conf.d drop-ins would be
		// merged into a registries.conf the admin chose explicitly.
		sys.SystemRegistriesConfDirPath = filepath.Join(filepath.Dir(sys.SystemRegistriesConfPath), "registries.conf.d")
	}
	return sys
}

// tmpDir is where a pull stages blobs: big_files_temporary_dir, or a
// directory next to the layers (on disk, unlike a tmpfs /tmp or runroot).
func (s *Service) tmpDir(cfg *config.Config) string {
	if cfg.Image.BigFilesTemporaryDir != "" {
		return cfg.Image.BigFilesTemporaryDir
	}
	return filepath.Join(s.store.GraphRoot(), "tmp")
}

// policyPath is the signature policy for a pull: the namespace's file in
// signature_policy_dir when it exists, else signature_policy ("" = the
// system default).
func policyPath(cfg *config.Config, namespace string) string {
	if namespace != "" && cfg.Image.SignaturePolicyDir != "" && !strings.ContainsAny(namespace, "/\x00") && namespace != ".." && namespace != "." {
		p := filepath.Join(cfg.Image.SignaturePolicyDir, namespace+".json")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return cfg.Image.SignaturePolicy
}

func loadPolicy(cfg *config.Config, sys *types.SystemContext) (*signature.Policy, error) {
	p, err := signature.DefaultPolicy(sys)
	if err != nil {
		where := sys.SignaturePolicyPath
		if where == "" {
			where = "the system default (/etc/containers/policy.json)"
		}
		return nil, fmt.Errorf("%w: loading the signature policy from %s (crio.image.signature_policy): %v", ErrRejected, where, err)
	}
	return p, nil
}

// dockerAuth turns the CRI AuthConfig into go.podman.io/image's.
func dockerAuth(a *Auth) (*types.DockerAuthConfig, error) {
	user, pass := a.Username, a.Password
	if a.Auth != "" {
		dec, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return nil, fmt.Errorf("%w: auth is not base64: %v", ErrUnauthorized, err)
		}
		u, p, ok := strings.Cut(string(dec), ":")
		if !ok {
			return nil, fmt.Errorf("%w: auth is not base64(username:password)", ErrUnauthorized)
		}
		user, pass = u, p
	}
	if a.IdentityToken != "" {
		return &types.DockerAuthConfig{Username: user, IdentityToken: a.IdentityToken}, nil
	}
	if user == "" && pass == "" {
		return nil, nil
	}
	return &types.DockerAuthConfig{Username: user, Password: pass}, nil
}

// credentialKey distinguishes pulls made with different credentials, so
// that a caller never gets an image through someone else's login.
func credentialKey(sys *types.SystemContext) string {
	h := sha256.New()
	if a := sys.DockerAuthConfig; a != nil {
		fmt.Fprintf(h, "%q %q %q", a.Username, a.Password, a.IdentityToken)
	}
	fmt.Fprintf(h, "%q %q %v", sys.DockerBearerRegistryToken, sys.AuthFilePath, sys.DockerInsecureSkipTLSVerify)
	return hex.EncodeToString(h.Sum(nil))
}

// registryOf returns the registry host of a fully-qualified name.
func registryOf(name string) string {
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return ""
	}
	return reference.Domain(n)
}

// isInsecure reports whether reg is listed in insecure_registries, by
// name (with or without port) or by a CIDR holding its IP.
func isInsecure(reg string, list []string) bool {
	host := reg
	if h, _, err := net.SplitHostPort(reg); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	for _, e := range list {
		if e == reg || e == host {
			return true
		}
		if _, cidr, err := net.ParseCIDR(e); err == nil && ip != nil && cidr.Contains(ip) {
			return true
		}
	}
	return false
}

// classify wraps a pull error with its kind and the name pulled.
func classify(named reference.Named, err error) error {
	var kind error
	var unauth docker.ErrUnauthorizedForCredentials
	var policyErr signature.PolicyRequirementError
	var ec errcode.Error
	var code errcode.ErrorCode
	var httpErr docker.UnexpectedHTTPStatusError
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, ErrBadImage), errors.Is(err, ErrStalled), errors.Is(err, ErrRejected):
		return fmt.Errorf("pulling %s: %w", named, err)
	case strings.Contains(err.Error(), "exceeded maximum allowed size of"):
		// go.podman.io/image's cap on a manifest or config body (an
		// unexported error): the image is at fault, not the network,
		// even when a mirror's failure is joined with the origin's.
		kind = ErrBadImage
	case errors.As(err, &unauth):
		kind = ErrUnauthorized
	case errors.As(err, &policyErr):
		kind = ErrRejected
	case errors.Is(err, docker.ErrTooManyRequests):
		kind = ErrTooMany
	case errors.As(err, &ec) || errors.As(err, &code):
		if code == 0 {
			code = ec.Code
		}
		switch code {
		case v2.ErrorCodeManifestUnknown, v2.ErrorCodeNameUnknown, v2.ErrorCodeBlobUnknown:
			kind = ErrNotFound
		case errcode.ErrorCodeUnauthorized, errcode.ErrorCodeDenied:
			kind = ErrUnauthorized
		case errcode.ErrorCodeTooManyRequests:
			kind = ErrTooMany
		case errcode.ErrorCodeUnavailable:
			kind = ErrUnavailable
		}
	case errors.As(err, &httpErr):
		switch {
		case httpErr.StatusCode == 404:
			kind = ErrNotFound
		case httpErr.StatusCode == 401 || httpErr.StatusCode == 403:
			kind = ErrUnauthorized
		case httpErr.StatusCode >= 500:
			kind = ErrUnavailable
		}
	case strings.Contains(err.Error(), " is blocked in "):
		kind = ErrBlocked
	case errors.As(err, &dnsErr), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.As(err, &netErr):
		kind = ErrUnavailable
	}
	if kind == nil {
		return fmt.Errorf("pulling %s: %w", named, err)
	}
	return fmt.Errorf("pulling %s: %w: %w", named, kind, err)
}

// releaseMemory ends a pull; when no other pull is in flight it returns
// the heap the pulls grew to the system. A pull allocates in bursts
// (decompression windows, compression blocks for tar-split, buffers of
// every layer in parallel) that the Go runtime would otherwise keep for
// minutes as heap headroom: an idle daemon that pulled busybox and pause
// keeps 11.6 MiB of private memory instead of 15. One forced collection
// per burst of pulls is cheap next to the pull itself, and runs after the
// reply.
func (s *Service) releaseMemory() {
	if s.pulling.Add(-1) == 0 {
		go func() {
			if s.pulling.Load() == 0 {
				debug.FreeOSMemory()
			}
		}()
	}
}
