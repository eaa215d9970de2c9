package testbench

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// The link relays bytes both ways; cut, it drops every connection and
// refuses new ones; restored, it relays again.
func TestLink(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					c.Write(append(s.Bytes(), '\n'))
				}
			}()
		}
	}()
	l, err := startLink("tcp://" + echo.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", l.URL[len("tcp://"):])
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	roundTrip := func(c net.Conn, r *bufio.Reader) error {
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		_, err := r.ReadString('\n')
		return err
	}
	c, r := dial()
	if err := roundTrip(c, r); err != nil {
		t.Fatalf("through the link: %v", err)
	}
	l.setDown(true)
	if err := roundTrip(c, r); err == nil {
		t.Error("a connection survived the cut")
	}
	c2, r2 := dial() // accepted by the kernel, then closed by the link
	if err := roundTrip(c2, r2); err == nil {
		t.Error("a new connection got through a cut link")
	}
	l.setDown(false)
	c3, r3 := dial()
	if err := roundTrip(c3, r3); err != nil {
		t.Errorf("after the link came back: %v", err)
	}
	for _, c := range []net.Conn{c, c2, c3} {
		c.Close()
	}
	if _, err := startLink("ssl://127.0.0.1:8883"); err == nil {
		t.Error("a TLS broker URL was taken")
	}
}
