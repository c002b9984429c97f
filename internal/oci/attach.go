package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// conmon's attach protocol: a SOCK_SEQPACKET socket named "attach" in the
// directory conmon links as <attach dir>/<container id> to the bundle.
// Each packet conmon sends is one byte naming the pipe (conmon's enum:
// 1 stdin, 2 stdout, 3 stderr) and up to 8192 bytes of output. What a client writes goes to
// the container's stdin unframed; when the client shuts its write side
// down, conmon closes the container's stdin unless it runs with
// --leave-stdin-open (containers without stdin_once). Resizes go to the
// "ctl" fifo in the bundle as "1 <height> <width>\n".
const (
	attachPipeStdout = 2
	attachPipeStderr = 3
	attachPacketSize = 8192 + 1
	ctlResize        = 1
)

// AttachSocket is the path of the container's conmon attach socket.
func (r *Runtime) AttachSocket(c *Container) string {
	return filepath.Join(r.opts.AttachDir, c.ID, "attach")
}

// Attach connects the client's streams to the container's stdio, which
// conmon holds. It returns when the container's output ends (it exited),
// when the client detaches (its stdin ends while the container keeps
// stdin open), or when ctx is done.
func (r *Runtime) Attach(ctx context.Context, c *Container, s ExecStreams) error {
	if !r.Alive(c) || r.Exited(c) {
		return fmt.Errorf("%w: %s", ErrNotRunning, c.ID)
	}
	if s.Stdin != nil && !c.Stdin {
		return fmt.Errorf("container %s was not created with stdin", c.ID)
	}
	path := r.AttachSocket(c)
	conn, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return fmt.Errorf("connecting to the attach socket of %s: %w", c.ID, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if s.Resize != nil {
		go r.forwardResize(c, s.Resize)
	}

	stdinDone := make(chan error, 1)
	if s.Stdin != nil {
		go func() {
			_, err := io.Copy(conn, s.Stdin)
			if err == nil {
				// The client closed stdin: tell conmon, which closes
				// the container's stdin if it is stdin_once.
				err = conn.CloseWrite()
			}
			stdinDone <- err
		}()
	}
	outDone := make(chan error, 1)
	go func() { outDone <- copyAttachOutput(conn, s.Stdout, s.Stderr) }()

	select {
	case err := <-outDone:
		return err
	case err := <-stdinDone:
		if err == nil && c.StdinOnce {
			// The container's stdin is closed now; its output goes on
			// until it exits.
			return <-outDone
		}
		// Detached: the container keeps running with its stdin open.
		return err
	}
}

// copyAttachOutput demultiplexes conmon's packets onto the client's
// streams until the socket ends.
func copyAttachOutput(conn *net.UnixConn, stdout, stderr io.Writer) error {
	buf := make([]byte, attachPacketSize)
	for {
		n, err := conn.Read(buf)
		if n > 1 {
			var w io.Writer
			switch buf[0] {
			case attachPipeStdout:
				w = stdout
			case attachPipeStderr:
				w = stderr
			}
			if w != nil {
				if _, werr := w.Write(buf[1:n]); werr != nil {
					return fmt.Errorf("writing attach output: %w", werr)
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("reading the attach socket: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}

// forwardResize passes the client's terminal sizes to conmon, which sets
// them on the container's terminal.
func (r *Runtime) forwardResize(c *Container, sizes <-chan TerminalSize) {
	var ctl *os.File
	defer func() {
		if ctl != nil {
			ctl.Close()
		}
	}()
	for sz := range sizes {
		if ctl == nil {
			f, err := os.OpenFile(filepath.Join(c.Bundle, "ctl"), os.O_WRONLY|unix.O_NONBLOCK, 0)
			if err != nil {
				r.log.Debug("opening conmon's control fifo for a resize", "id", c.ID, "error", err)
				continue
			}
			ctl = f
		}
		if _, err := fmt.Fprintf(ctl, "%d %d %d\n", ctlResize, sz.Height, sz.Width); err != nil {
			r.log.Debug("resizing the container's terminal", "id", c.ID, "error", err)
		}
	}
}
