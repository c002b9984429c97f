package testregistry

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// src holds the C programs that stand in for pause, nginx, httpd, pgrep,
// ipcs and nnp in the test images. They are compiled statically with the
// host's gcc when the image cache is built.
//
//go:embed src/*.c
var src embed.FS

// tool is one static helper program.
type tool struct {
	name   string   // output file name
	source string   // file in src/
	flags  []string // extra gcc flags
}

var tools = []tool{
	{name: "pause", source: "pause.c"},
	{name: "nnp", source: "nonewprivs.c"},
	{name: "pgrep", source: "pgrep.c"},
	{name: "ipcs", source: "ipcs.c"},
	{name: "nginx", source: "webserver.c", flags: []string{"-DNGINX"}},
	{name: "httpd", source: "webserver.c", flags: []string{"-DHTTPD"}},
}

// buildTools compiles every tool into dir and returns their contents by name.
func buildTools(dir string) (map[string][]byte, error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return nil, fmt.Errorf("gcc is needed to build the test images' helper programs (apt-get install gcc libc6-dev): %w", err)
	}
	out := map[string][]byte{}
	for _, t := range tools {
		code, err := src.ReadFile("src/" + t.source)
		if err != nil {
			return nil, err
		}
		srcPath := filepath.Join(dir, t.name+".c")
		if err := os.WriteFile(srcPath, code, 0o644); err != nil {
			return nil, err
		}
		bin := filepath.Join(dir, t.name)
		args := append([]string{"-static", "-Os", "-s", "-Wall", "-o", bin}, t.flags...)
		args = append(args, srcPath)
		if msg, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("gcc %s (is libc6-dev installed?): %w: %s", t.source, err, msg)
		}
		data, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		out[t.name] = data
	}
	return out, nil
}
