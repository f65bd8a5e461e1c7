// Package pgtest starts a throwaway PostgreSQL server for tests: initdb in a
// temporary directory, the server on a free loopback port, stopped and
// removed when the test ends. PostgreSQL refuses to run as root, so under
// root the server runs as the `postgres` user that Debian's package creates.
//
// A machine without PostgreSQL skips the test, except in CI (CI set in the
// environment) or where /usr/lib/postgresql exists (PostgreSQL is meant to
// be there): then it is a failure, so a broken setup never passes silently.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// debianDir is where Debian installs PostgreSQL's server programs, one
// directory per major version.
const debianDir = "/usr/lib/postgresql"

// Server is a running test server.
type Server struct {
	// URL connects to the server's "postgres" database as the superuser.
	URL string

	cmd  *exec.Cmd
	dir  string
	log  *syncBuffer
	done chan struct{}
}

// Start starts a server that stops when t ends, or skips t (see the package
// comment).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := findBin()
	if err != nil {
		if required() {
			t.Fatalf("PostgreSQL is required here (CI is set or %s exists): %v; install it with `apt-get install postgresql`", debianDir, err)
		}
		t.Skipf("PostgreSQL not installed (%v); `apt-get install postgresql` to run this test", err)
	}
	s, err := start(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func required() bool {
	if os.Getenv("CI") != "" {
		return true
	}
	_, err := os.Stat(debianDir)
	return err == nil
}

// findBin returns the directory of initdb and postgres: the newest version
// under debianDir, or else the one on PATH.
func findBin() (string, error) {
	if dirs, _ := filepath.Glob(filepath.Join(debianDir, "*", "bin", "initdb")); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
		return filepath.Dir(dirs[0]), nil
	}
	p, err := exec.LookPath("initdb")
	if err != nil {
		return "", fmt.Errorf("no initdb in %s/*/bin nor on PATH", debianDir)
	}
	return filepath.Dir(p), nil
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func start(bin string) (*Server, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "embly-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, log: &syncBuffer{}, done: make(chan struct{})}
	data := filepath.Join(dir, "data")
	if err := prepareDir(dir, data, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200")
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := s.waitReady(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// credential returns who runs the server: the postgres user under root,
// else nil (the current user).
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root and there is no postgres user to run it as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// prepareDir makes dir reachable and data owned by the server's user.
func prepareDir(dir, data string, cred *syscall.Credential) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	if cred != nil {
		return os.Chown(data, int(cred.Uid), int(cred.Gid))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls until the server accepts a connection.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited at start:\n%s", s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections in 60s: %v\n%s", err, s.log.String())
		}
	}
}

// Stop shuts the server down (fast shutdown: open sessions are ended) and
// removes its directory. It is safe to call twice.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.done:
			case <-time.After(30 * time.Second):
				s.cmd.Process.Kill()
				<-s.done
			}
		}
	}
	return os.RemoveAll(s.dir)
}

// Log returns what the server printed.
func (s *Server) Log() string { return s.log.String() }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
