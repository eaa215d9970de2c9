package testbench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
)

// link is the vehicle's connection to the broker: a TCP relay on
// 127.0.0.1 that the bench can cut (a broker outage as the vehicle sees
// it: connections dropped, new ones refused) without touching the broker
// or the collector, so that it works the same with any broker.
type link struct {
	ln     net.Listener
	target string
	// URL is what the gateway connects to.
	URL string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startLink relays to the broker at brokerURL (tcp://host:port).
func startLink(brokerURL string) (*link, error) {
	u, err := url.Parse(brokerURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("broker link: %q is not a tcp://host:port URL", brokerURL)
	}
	if u.Scheme != "tcp" && u.Scheme != "mqtt" {
		return nil, fmt.Errorf("broker link: scheme %q: the bench relays plain tcp:// only", u.Scheme)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("broker link: %w", err)
	}
	l := &link{ln: ln, target: u.Host, URL: "tcp://" + ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.serve()
	return l, nil
}

func (l *link) serve() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.down {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		l.wg.Add(1)
		go l.relay(c)
	}
}

func (l *link) relay(c net.Conn) {
	defer l.wg.Done()
	defer l.forget(c)
	b, err := net.Dial("tcp", l.target)
	if err != nil {
		return
	}
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		b.Close()
		return
	}
	l.conns[b] = struct{}{}
	l.mu.Unlock()
	defer l.forget(b)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go cp(b, c)
	go cp(c, b)
	<-done
	<-done
}

func (l *link) forget(c net.Conn) {
	c.Close()
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// setDown cuts the link (every connection dropped, new ones refused) or
// restores it.
func (l *link) setDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
	if down {
		for c := range l.conns {
			c.Close()
		}
	}
}

// up reports whether the link is up.
func (l *link) up() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.down
}

// Close stops the relay and waits for its goroutines.
func (l *link) Close() error {
	err := l.ln.Close()
	l.setDown(true)
	l.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
