package spec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxIDFile bounds how much of a rootfs's /etc/passwd or /etc/group is
// read: the image is hostile and may make them huge or a device.
const maxIDFile = 4 << 20

// resolveUser finds the container's uid, gid and supplemental groups from
// the security context, or else the image's USER, looking names up in
// the rootfs's /etc/passwd and /etc/group.
func resolveUser(rootfs string, sc *runtimeapi.LinuxContainerSecurityContext, pod *runtimeapi.LinuxSandboxSecurityContext, imageUser string) (User, error) {
	passwd, err := readInRoot(rootfs, "/etc/passwd")
	if err != nil {
		return User{}, err
	}
	group, err := readInRoot(rootfs, "/etc/group")
	if err != nil {
		return User{}, err
	}
	// The parsers fail on a line longer than bufio.Scanner's 64 KiB
	// token and then return nothing at all: ignoring that would turn an
	// image with one absurd line into "user not found" for every user.
	users, err := user.ParsePasswd(strings.NewReader(passwd))
	if err != nil {
		return User{}, idFileError("/etc/passwd", err)
	}
	groups, err := user.ParseGroup(strings.NewReader(group))
	if err != nil {
		return User{}, idFileError("/etc/group", err)
	}

	var (
		u    User
		name string // user name, for group membership
	)
	switch {
	case sc.RunAsUsername != "":
		pw := findUser(users, sc.RunAsUsername)
		if pw == nil {
			return User{}, invalidf("run_as_username %q not found in the image's /etc/passwd", sc.RunAsUsername)
		}
		u.UID, u.GID, name = uint32(pw.Uid), uint32(pw.Gid), pw.Name
	case sc.RunAsUser != nil:
		if sc.RunAsUser.Value < 0 || sc.RunAsUser.Value > 1<<32-2 {
			return User{}, invalidf("run_as_user %d is out of range", sc.RunAsUser.Value)
		}
		u.UID = uint32(sc.RunAsUser.Value)
		if pw := findUser(users, strconv.FormatInt(sc.RunAsUser.Value, 10)); pw != nil {
			u.GID, name = uint32(pw.Gid), pw.Name
		}
	default:
		userPart, groupPart, hasGroup := strings.Cut(imageUser, ":")
		if userPart != "" {
			pw := findUser(users, userPart)
			switch {
			case pw != nil:
				u.UID, u.GID, name = uint32(pw.Uid), uint32(pw.Gid), pw.Name
			case isNumeric(userPart):
				id, err := parseID(userPart)
				if err != nil {
					return User{}, invalidf("image USER %q: %v", imageUser, err)
				}
				u.UID = id
			default:
				return User{}, invalidf("image USER %q not found in the image's /etc/passwd", userPart)
			}
		}
		if hasGroup && groupPart != "" {
			gid, err := lookupGroup(groups, groupPart)
			if err != nil {
				return User{}, invalidf("image USER %q: %v", imageUser, err)
			}
			u.GID = gid
		}
	}
	if sc.RunAsGroup != nil {
		if sc.RunAsUser == nil && sc.RunAsUsername == "" {
			return User{}, invalidf("run_as_group needs run_as_user or run_as_username")
		}
		if sc.RunAsGroup.Value < 0 || sc.RunAsGroup.Value > 1<<32-2 {
			return User{}, invalidf("run_as_group %d is out of range", sc.RunAsGroup.Value)
		}
		u.GID = uint32(sc.RunAsGroup.Value)
	}

	// The primary group comes first, as in `id -G`.
	u.SupplementalGroups = []uint32{u.GID}
	add := func(g uint32) {
		if !slices.Contains(u.SupplementalGroups, g) {
			u.SupplementalGroups = append(u.SupplementalGroups, g)
		}
	}
	policy := sc.SupplementalGroupsPolicy
	if pod != nil && policy == runtimeapi.SupplementalGroupsPolicy_Merge {
		policy = pod.SupplementalGroupsPolicy
	}
	if policy == runtimeapi.SupplementalGroupsPolicy_Merge && name != "" {
		for _, gr := range groups {
			if slices.Contains(gr.List, name) {
				add(uint32(gr.Gid))
			}
		}
	}
	extra := sc.SupplementalGroups
	if len(extra) == 0 && pod != nil {
		extra = pod.SupplementalGroups
	}
	for _, g := range extra {
		if g < 0 || g > 1<<32-2 {
			return User{}, invalidf("supplemental group %d is out of range", g)
		}
		add(uint32(g))
	}
	return u, nil
}

// idFileError says why the image's /etc/passwd or /etc/group could not
// be parsed.
func idFileError(path string, err error) error {
	if errors.Is(err, bufio.ErrTooLong) {
		return invalidf("%s in the image has a line longer than %d bytes", path, bufio.MaxScanTokenSize)
	}
	return invalidf("parsing %s in the image: %v", path, err)
}

func findUser(users []user.User, nameOrID string) *user.User {
	for i := range users {
		if users[i].Name == nameOrID {
			return &users[i]
		}
	}
	if isNumeric(nameOrID) {
		for i := range users {
			if strconv.Itoa(users[i].Uid) == nameOrID {
				return &users[i]
			}
		}
	}
	return nil
}

func lookupGroup(groups []user.Group, nameOrID string) (uint32, error) {
	for _, g := range groups {
		if g.Name == nameOrID {
			return uint32(g.Gid), nil
		}
	}
	if isNumeric(nameOrID) {
		return parseID(nameOrID)
	}
	return 0, fmt.Errorf("group %q not found in the image's /etc/group", nameOrID)
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parseID(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 1<<32-1 {
		return 0, fmt.Errorf("id %q is out of range", s)
	}
	return uint32(v), nil
}

// readInRoot reads a regular file inside rootfs, resolving symlinks
// inside it, at most maxIDFile bytes. A missing file reads as empty.
func readInRoot(rootfs, path string) (string, error) {
	h, err := pathrs.OpenInRoot(rootfs, path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("opening %s in the container rootfs: %w", path, err)
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK)
	if err != nil {
		return "", fmt.Errorf("opening %s in the container rootfs: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", invalidf("%s in the image is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxIDFile+1))
	if err != nil {
		return "", fmt.Errorf("reading %s in the container rootfs: %w", path, err)
	}
	if len(b) > maxIDFile {
		return "", invalidf("%s in the image is larger than %d bytes", path, maxIDFile)
	}
	return string(b), nil
}

// ExistsInRoot says whether path names a non-directory inside rootfs,
// resolving symlinks inside it.
func ExistsInRoot(rootfs, path string) (bool, error) {
	h, err := pathrs.OpenInRoot(rootfs, path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return false, err
	}
	return !fi.IsDir(), nil
}
