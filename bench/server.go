package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is one process under test: the native baseline or `embly run`.
type server struct {
	name    string
	port    int
	logPath string
	cmd     *exec.Cmd
	logFile *os.File
	started time.Time
	exited  chan struct{} // closed when the process has been waited for
	waitErr error
}

// startServer starts argv with its output going to logPath. The process is
// waited for in the background so that an early exit (a build error) ends
// the readiness wait at once.
func startServer(name string, port int, logPath string, argv []string, dir string) (*server, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	s := &server{name: name, port: port, logPath: logPath, cmd: cmd, logFile: logFile, exited: make(chan struct{})}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() {
		s.waitErr = cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	return s, nil
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }
func (s *server) url() string  { return "http://" + s.addr() + "/" }
func (s *server) pid() int     { return s.cmd.Process.Pid }

// exitError describes an exit the benchmark did not ask for.
func (s *server) exitError() error {
	return fmt.Errorf("%s exited before it was ready (%v); its output is in %s", s.name, s.waitErr, s.logPath)
}

// stop interrupts the process, as Ctrl-C would, and waits for it to shut
// down; after grace it is killed.
func (s *server) stop(grace time.Duration) error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("interrupt %s (pid %d): %w", s.name, s.pid(), err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(grace):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s (pid %d) did not stop within %v of SIGINT and was killed", s.name, s.pid(), grace)
	}
}

// waitHello polls GET / until it answers 200 "Hello World", the process
// exits, or timeout passes.
func (s *server) waitHello(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := getHello(ctx, client, s.url())
		if ok {
			return nil
		}
		last = err
		select {
		case <-s.exited:
			return s.exitError()
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s did not answer 200 Hello World on %s within %v (last: %v); its output is in %s", s.name, s.url(), timeout, last, s.logPath)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// getHello does one GET and reports whether it was 200 "Hello World".
func getHello(ctx context.Context, client *http.Client, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "Hello World" {
		return false, fmt.Errorf("got %s %q", resp.Status, body)
	}
	return true, nil
}

// firstResponse measures a restart: (a) from process start until the port
// accepts a TCP connection, polled every millisecond, and (b) from then until
// the first 200 "Hello World" response to GET / has been read completely.
func (s *server) firstResponse(ctx context.Context, timeout time.Duration) (toPort, toFirst time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.exited:
			return 0, 0, s.exitError()
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("%s: port %d did not accept within %v; its output is in %s", s.name, s.port, timeout, s.logPath)
		case <-time.After(time.Millisecond):
		}
	}
	accepting := time.Now()
	toPort = accepting.Sub(s.started)
	// A fresh client: no pooled connection from an earlier process.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: timeout}
	for {
		ok, err := getHello(ctx, client, s.url())
		if ok {
			return toPort, time.Since(accepting), nil
		}
		select {
		case <-s.exited:
			return 0, 0, s.exitError()
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("%s: no 200 Hello World within %v of the port accepting (last: %v); its output is in %s", s.name, timeout, err, s.logPath)
		default:
		}
	}
}

// peakRSS reads VmHWM, the process's peak resident set size, in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseVmHWM(string(b))
}

// parseVmHWM finds the VmHWM line of a /proc/PID/status file.
func parseVmHWM(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmHWM line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM line %q: %w", line, err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no VmHWM line in /proc/PID/status")
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the server binds it; the server then fails loudly with
// "address in use" in its log.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serveNative is the baseline: plain net/http answering Hello World, run as
// a separate process (the benchmark re-executes itself) so its RSS is its own.
func serveNative(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello World"))
	})
	srv := &http.Server{Addr: addr, Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}
