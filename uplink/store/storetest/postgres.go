// Package storetest starts a real PostgreSQL server for tests: initdb
// into a temporary directory and postgres on a free port of 127.0.0.1,
// as the current user, or, under root (which initdb refuses), as the
// user postgres (Debian's package makes it) or nobody.
package storetest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv set to 1 turns a missing PostgreSQL into a test failure
// instead of a skip (`make test` sets it).
const RequireEnv = "QUIETZONE_REQUIRE_POSTGRES"

// Options tune the server.
type Options struct {
	// Durable keeps fsync on (load tests); tests run without it.
	Durable bool
	// Settings are more -c NAME=VALUE settings.
	Settings []string
}

// Postgres is a running server.
type Postgres struct {
	DSN  string
	dir  string
	proc *exec.Cmd
	done chan struct{}
}

// Bin finds a PostgreSQL program: on PATH, else in Debian's
// /usr/lib/postgresql/VERSION/bin (newest first).
func Bin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		p := filepath.Join(dirs[i], name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// Start starts a server for the duration of the test and returns it
// with a database "quietzone" created.
func Start(t testing.TB, o Options) *Postgres {
	t.Helper()
	initdb, postgres := Bin("initdb"), Bin("postgres")
	if initdb == "" || postgres == "" {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("PostgreSQL not installed, and %s=1 requires it: apt-get install postgresql", RequireEnv)
		}
		t.Skip("PostgreSQL not installed: `make test` installs it (apt-get install postgresql)")
	}
	p, err := start(initdb, postgres, o)
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// runAs returns the credential to run the server under: nil for the
// current user, or postgres / nobody under root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root, and there is neither a user postgres nor nobody to run the server as")
}

func start(initdb, postgres string, o Options) (*Postgres, error) {
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "quietzone-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir}
	fail := func(err error) (*Postgres, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return fail(err)
	}
	if cred != nil {
		for _, d := range []string{dir, sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return fail(err)
			}
		}
	}
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	args := []string{"-D", data, "-p", strconv.Itoa(port), "-k", sock, "-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=50", "-c", "shared_buffers=256MB", "-c", "max_wal_size=4GB", "-c", "checkpoint_timeout=30min"}
	if !o.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, s := range o.Settings {
		args = append(args, "-c", s)
	}
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return fail(err)
	}
	p.proc = exec.Command(postgres, args...)
	p.proc.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p.proc.Stdout, p.proc.Stderr = logf, logf
	p.proc.Dir = dir
	if err := p.proc.Start(); err != nil {
		logf.Close()
		return fail(err)
	}
	logf.Close()
	p.done = make(chan struct{})
	go func() { p.proc.Wait(); close(p.done) }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return fail(fmt.Errorf("postgres exited while starting:\n%s", log))
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, errors.New("postgres not accepting connections after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	psql := Bin("psql")
	base := fmt.Sprintf("postgres://postgres@%s/", addr)
	// CREATE DATABASE through psql when there is one; else the tests use
	// the database postgres.
	p.DSN = base + "postgres?sslmode=disable"
	if psql != "" {
		for i := 0; i < 50; i++ {
			out, err := exec.Command(psql, "-X", "-q", "-d", base+"postgres?sslmode=disable", "-c", "CREATE DATABASE quietzone").CombinedOutput()
			if err == nil {
				p.DSN = base + "quietzone?sslmode=disable"
				break
			}
			if !strings.Contains(string(out), "starting up") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return p, nil
}

// Stop stops the server and removes its files.
func (p *Postgres) Stop() {
	if p.proc != nil && p.proc.Process != nil {
		_ = p.proc.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.proc.Process.Kill()
			<-p.done
		}
	}
	os.RemoveAll(p.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
