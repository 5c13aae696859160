package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// child is a process the benchmark started and must stop.
type child struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been waited for
	err    error         // its exit status, once exited is closed
}

// startChild starts argv with the listeners' sockets as inherited descriptors 3, 4, ... The child is
// put in its own process group, so a Ctrl-C reaches only the parent, which stops it in order, and it
// is killed if the parent dies first.
func startChild(name string, argv []string, listeners []net.Listener, stderr io.Writer) (*child, error) {
	files := make([]*os.File, 0, len(listeners))
	defer func() {
		for _, f := range files {
			f.Close() // the child holds its own copies
		}
	}()
	for _, ln := range listeners {
		tl, ok := ln.(*net.TCPListener)
		if !ok {
			return nil, fmt.Errorf("bench: %s: cannot pass a %T to a child process", name, ln)
		}
		f, err := tl.File()
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", name, err)
		}
		files = append(files, f)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// Pid returns the child's process id.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// stop asks the child to end (SIGTERM), and kills it if it has not within grace.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
		return nil
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("bench: %s did not stop within %v and was killed", c.name, grace)
	}
}

// exitError describes a child that ended before it should have.
func (c *child) exitError() error {
	if c.err != nil {
		return fmt.Errorf("bench: %s exited: %w", c.name, c.err)
	}
	return fmt.Errorf("bench: %s exited", c.name)
}

// readyTimeout bounds how long a child may take to serve.
const readyTimeout = 15 * time.Second

// waitReady calls probe until it succeeds, the child exits, or readyTimeout passes. Each probe gets a
// short deadline of its own; between probes it waits a little, backing off.
func waitReady(ctx context.Context, c *child, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	delay := 5 * time.Millisecond
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-c.exited:
			t.Stop()
			return fmt.Errorf("%w (last probe: %v)", c.exitError(), last)
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("bench: %s not ready after %v: %w", c.name, readyTimeout, last)
			}
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// inheritedListener returns the listener passed to this process as descriptor fd.
func inheritedListener(fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), fmt.Sprintf("listener-fd-%d", fd))
	if f == nil {
		return nil, fmt.Errorf("bench: no descriptor %d", fd)
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("bench: descriptor %d: %w", fd, err)
	}
	return ln, nil
}

// Listen returns a listener on addr, or, when fd > 0, the listener inherited as descriptor fd.
func Listen(addr string, fd int) (net.Listener, error) {
	if fd > 0 {
		return inheritedListener(fd)
	}
	return net.Listen("tcp", addr)
}
