// Command testregistry serves the project's test images on a loopback
// address until SIGTERM or SIGINT, for running critest or a daemon by hand.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/crio/crio/hack/testregistry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	cacheDir := flag.String("cache-dir", testregistry.DefaultCacheDir(), "cache for downloaded packages and built images")
	conf := flag.String("registries-conf", "", "write a registries.conf (v2) that mirrors public registries to this registry to PATH")
	user := flag.String("user", "", "require HTTP basic authentication with this user name")
	password := flag.String("password", "", "password for -user")
	verbose := flag.Bool("v", false, "log every request")
	flag.Parse()

	if err := run(*addr, *cacheDir, *conf, *user, *password, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "testregistry:", err)
		os.Exit(1)
	}
}

func run(addr, cacheDir, conf, user, password string, verbose bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	o := testregistry.Options{Addr: addr, CacheDir: cacheDir}
	if user != "" {
		o.BasicAuth = &testregistry.BasicAuth{Username: user, Password: password}
	}
	if verbose {
		o.Logf = func(format string, args ...any) { slog.Info(fmt.Sprintf(format, args...)) }
	}
	r, err := testregistry.Start(ctx, o)
	if err != nil {
		return err
	}
	defer r.Close()
	if conf != "" {
		if err := testregistry.WriteRegistriesConf(conf, r.Addr); err != nil {
			return fmt.Errorf("write %s: %w", conf, err)
		}
	}
	fmt.Printf("listening on %s\n", r.Addr)
	<-ctx.Done()
	return nil
}
