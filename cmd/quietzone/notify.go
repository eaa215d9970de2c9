package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// notifier speaks systemd's notify protocol (sd_notify(3)): one datagram
// per message on the unix socket named by NOTIFY_SOCKET. It needs no cgo
// and no library. A nil notifier (not started by systemd) sends nothing.
type notifier struct {
	conn *net.UnixConn
}

// newNotifier connects to NOTIFY_SOCKET; without it, it returns nil.
// A name starting with '@' is in the abstract namespace.
func newNotifier() (*notifier, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil, nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	} else if path[0] != '/' {
		return nil, fmt.Errorf("NOTIFY_SOCKET %q: want an absolute path or @name", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return &notifier{conn: conn}, nil
}

// send sends one message, such as "READY=1" or "WATCHDOG=1".
func (n *notifier) send(state string) error {
	if n == nil {
		return nil
	}
	if _, err := n.conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}

func (n *notifier) close() {
	if n != nil {
		n.conn.Close()
	}
}

// watchdogInterval returns the watchdog timeout systemd asks for
// (WATCHDOG_USEC, for this process if WATCHDOG_PID says so); ok is false
// when there is none.
func watchdogInterval() (time.Duration, bool, error) {
	usec := os.Getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, false, nil
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false, nil // meant for another process
	}
	n, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || n == 0 {
		return 0, false, fmt.Errorf("WATCHDOG_USEC %q: want a positive number of microseconds", usec)
	}
	return time.Duration(n) * time.Microsecond, true, nil
}

// errNoProgress: the decision loop has not ticked for a whole watchdog
// period; the watchdog is not fed, and systemd restarts the daemon.
var errNoProgress = errors.New("the decision loop made no progress")

// watchdog pings systemd every timeout/2 while the decision loop makes
// progress (ticks counts its ticks), until ctx is done. When the loop
// stalls it stops pinging and reports it once per period on stalled;
// systemd then kills and restarts the daemon, which comes up suppressed.
func watchdog(ctx context.Context, n *notifier, timeout time.Duration, ticks func() uint64, stalled func(error)) {
	t := time.NewTicker(timeout / 2)
	defer t.Stop()
	last := ticks()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cur := ticks()
			if cur == last {
				stalled(errNoProgress)
				continue
			}
			last = cur
			if err := n.send("WATCHDOG=1"); err != nil {
				stalled(err)
			}
		}
	}
}
