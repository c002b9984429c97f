package streaming

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"k8s.io/cri-streaming/pkg/streaming"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/crio/crio/internal/oci"
)

// Runtime runs the sessions the streaming server accepts. The lookups
// are the server's: a URL outlives its RPC, so the container or pod is
// looked up again (and must still be running) when the client connects.
type Runtime struct {
	OCI *oci.Runtime
	// Container returns the running container with this ID and a release
	// to call when the session ends, or an error saying why there is none
	// to exec in or attach to (or why no more sessions may open).
	Container func(id string) (*oci.Container, func(), error)
	// NetNS returns the path of the network namespace of the pod with
	// this ID; "" for a pod on the host's network.
	NetNS func(podID string) (string, error)
}

var _ streaming.Runtime = (*Runtime)(nil)

// Exec runs cmd in the container. A non-zero exit code is returned as a
// utilexec.ExitError, which the library reports to the client as the
// command's exit code.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	c, release, err := r.Container(id)
	if err != nil {
		return err
	}
	defer release()
	// The request's context is not cancelled when a hijacked connection
	// drops; a failed write to the client is the sign it is gone, and the
	// command must not live on blocked on a full pipe.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := oci.ExecStreams{Stdin: in, TTY: tty, Resize: sizes(resize)}
	// The library's streams are nil interfaces when not requested; keep
	// them nil rather than typed nils.
	if out != nil {
		s.Stdout = cancelOnError{out, cancel}
	}
	if errw != nil && !tty {
		s.Stderr = cancelOnError{errw, cancel}
	}
	code, err := r.OCI.Exec(ctx, c, cmd, s)
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: int(code)}
	}
	return nil
}

// Attach connects the client to the container's stdio.
func (r *Runtime) Attach(ctx context.Context, id string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	c, release, err := r.Container(id)
	if err != nil {
		return err
	}
	defer release()
	s := oci.ExecStreams{Stdin: in, TTY: tty, Resize: sizes(resize)}
	if out != nil {
		s.Stdout = out
	}
	if errw != nil {
		s.Stderr = errw
	}
	return r.OCI.Attach(ctx, c, s)
}

// PortForward connects stream to port on the pod's loopback, inside the
// pod's network namespace. It returns when the pod's side of the
// connection ends.
func (r *Runtime) PortForward(ctx context.Context, podID string, port int32, stream io.ReadWriteCloser) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("port %d is out of range", port)
	}
	netns, err := r.NetNS(podID)
	if err != nil {
		return err
	}
	conn, err := dialLoopback(ctx, netns, int(port))
	if err != nil {
		return fmt.Errorf("port-forward to port %d of pod %s: %w", port, podID, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	go func() {
		_, err := io.Copy(conn, stream)
		if err == nil {
			// The client is done sending; the pod's answer still flows.
			conn.CloseWrite()
			return
		}
		conn.Close()
	}()
	if _, err := io.Copy(stream, conn); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("port-forward to port %d of pod %s: %w", port, podID, err)
	}
	return nil
}

// sizes converts the library's terminal sizes to the runtime's, until
// the library closes its channel.
func sizes(in <-chan remotecommand.TerminalSize) <-chan oci.TerminalSize {
	if in == nil {
		return nil
	}
	out := make(chan oci.TerminalSize, 1)
	go func() {
		defer close(out)
		for sz := range in {
			out <- oci.TerminalSize{Width: sz.Width, Height: sz.Height}
		}
	}()
	return out
}

// cancelOnError cancels the session when a write to the client fails.
type cancelOnError struct {
	w      io.Writer
	cancel context.CancelFunc
}

func (c cancelOnError) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.cancel()
	}
	return n, err
}
