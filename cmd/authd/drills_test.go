package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authd/authd/authtest"
	"github.com/authd/authd/sqlite"
)

// TestMain lets the drills run this test binary as authd itself, in a process they can kill.
func TestMain(m *testing.M) {
	if os.Getenv("AUTHD_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is authd running as a child process.
type process struct {
	cmd  *exec.Cmd
	url  string
	logs *authtest.Buffer
}

func startProcess(t *testing.T, env map[string]string) *process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0]) // TestMain runs main() before any test flag is read
	cmd.Env = append(os.Environ(), "AUTHD_TEST_RUN_MAIN=1", "AUTH_ADDR="+addr, "AUTH_LOG_LEVEL=warn")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, url: "http://" + addr, logs: &authtest.Buffer{}}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitHealthy(t, p.url, p.logs)
	return p
}

// peakRSS is the most memory the process has held, in MiB.
func (p *process) peakRSS(t *testing.T) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// Drill 1: kill -9 in the middle of a write load on SQLite, then restart. Every acknowledged
// registration and password reset is there, every sign-in's last refresh token still works, and
// the database is intact.
func TestDrillKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("drill")
	}
	smtp := authtest.StartSMTP(t)
	db := filepath.Join(t.TempDir(), "authd.db")
	env := map[string]string{"AUTH_DATABASE_URL": "sqlite:" + db, "AUTH_SMTP_URL": smtp.URL(),
		"AUTH_IP_RATE_LIMIT": "0", "AUTH_LOGIN_FAILURE_LIMIT": "0", "AUTH_RESET_CODE_LIMIT": "0"}
	p := startProcess(t, env)

	type account struct {
		email     string
		passwords []string // the password, or either of two while a reset was unanswered
		refresh   string   // last acknowledged refresh token of its sign-in, if any
	}
	var mu sync.Mutex
	var acked []*account
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				email := fmt.Sprintf("kill-%d-%d@example.com", w, i)
				code, _, _ := try(p.url+"/auth/register/", "", map[string]string{"first_name": "K", "last_name": "L",
					"email": email, "phone_no": fmt.Sprintf("+44207%03d%04d", w, i), "password": "first password 1"})
				if code != 201 {
					continue
				}
				a := &account{email: email, passwords: []string{"first password 1"}}
				mu.Lock()
				acked = append(acked, a)
				mu.Unlock()
				if i%2 == 0 { // a sign-in that keeps rotating
					code, pair, _ := try(p.url+"/auth/token/", "", map[string]string{"email": email, "password": "first password 1"})
					for n := 0; code == 200 && n < 3; n++ {
						mu.Lock()
						a.refresh = pair["refresh"].(string)
						mu.Unlock()
						code, pair, _ = try(p.url+"/auth/token/refresh/", "", map[string]string{"refresh_token": a.refresh})
					}
					if code == 200 {
						mu.Lock()
						a.refresh = pair["refresh"].(string)
						mu.Unlock()
					}
					continue
				}
				if code, _, _ := try(p.url+"/auth/password/reset/", "", map[string]string{"email": email}); code != 200 {
					continue
				}
				otp := waitCode(smtp, email, 3*time.Second)
				if otp == "" {
					continue
				}
				mu.Lock()
				a.passwords = append(a.passwords, "second password 2") // unanswered: either may hold
				mu.Unlock()
				if code, _, _ := try(p.url+"/auth/password/reset/confirm/", "", map[string]string{"email": email, "otp": otp, "password": "second password 2"}); code == 200 {
					mu.Lock()
					a.passwords = []string{"second password 2"}
					mu.Unlock()
				}
			}
		})
	}
	// Let the load build up, so that the kill lands mid-flight: under the race detector, on a
	// busy machine, the first registrations take seconds.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 12 {
			break
		}
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	stop.Store(true)
	wg.Wait()
	if len(acked) < 5 {
		t.Fatalf("only %d registrations before the kill: the drill did not load the server", len(acked))
	}

	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	var integrity string
	s.DB().QueryRow(`PRAGMA integrity_check`).Scan(&integrity)
	s.Close()
	if integrity != "ok" {
		t.Fatalf("integrity_check: %s", integrity)
	}

	p = startProcess(t, env)
	for _, a := range acked {
		signedIn := false
		for _, pw := range a.passwords {
			if code, _ := call(t, p.url+"/auth/token/", "", map[string]string{"email": a.email, "password": pw}); code == 200 {
				signedIn = true
				break
			}
		}
		if !signedIn {
			t.Errorf("%s was acknowledged but cannot sign in after the crash", a.email)
		}
		if a.refresh != "" {
			if code, body := call(t, p.url+"/auth/token/refresh/", "", map[string]string{"refresh_token": a.refresh}); code != 200 {
				t.Errorf("%s: its last refresh token answers %d %v after the crash", a.email, code, body)
			}
		}
	}
	t.Logf("%d acknowledged accounts checked after kill -9", len(acked))
}

// waitCode returns the code last mailed to email, waiting up to d.
func waitCode(smtp *authtest.SMTPServer, email string, d time.Duration) string {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		msgs := smtp.Received()
		for i := len(msgs) - 1; i >= 0; i-- {
			if msgs[i].To == email && strings.Contains(msgs[i].Subject, "reset code") {
				_, rest, _ := strings.Cut(msgs[i].Text, "code is: ")
				if len(rest) >= 6 {
					return rest[:6]
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ""
}

// Drill 4: a flood of 1,000 concurrent sign-ins. Memory stays bounded, each answers 200 or 503
// from the bounded hashing queue, and /healthz keeps answering throughout.
func TestDrillLoginFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("drill")
	}
	p := startProcess(t, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "a.db"),
		"AUTH_IP_RATE_LIMIT": "0", "AUTH_LOGIN_FAILURE_LIMIT": "0"})
	if code, _ := call(t, p.url+"/auth/register/", "", map[string]string{"first_name": "F", "last_name": "L",
		"email": "flood@example.com", "phone_no": "+442071838799", "password": "flood password 1"}); code != 201 {
		t.Fatal("register")
	}
	transport := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 1000}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}
	defer transport.CloseIdleConnections()
	var health atomic.Int64
	var healthFailures atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			res, err := http.Get(p.url + "/healthz")
			if err != nil || res.StatusCode != 200 {
				healthFailures.Add(1)
			}
			if err == nil {
				res.Body.Close()
			}
			health.Add(1)
		}
	}()
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			res, err := client.Post(p.url+"/auth/token/", "application/json",
				strings.NewReader(`{"email":"flood@example.com","password":"flood password 1"}`))
			code := 0
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				code = res.StatusCode
			}
			mu.Lock()
			statuses[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	close(done)
	if statuses[200]+statuses[503] != 1000 || statuses[200] == 0 {
		t.Fatalf("statuses %v: every sign-in should get 200 or 503", statuses)
	}
	if health.Load() == 0 || healthFailures.Load() > 0 {
		t.Fatalf("/healthz: %d checks, %d failed during the flood", health.Load(), healthFailures.Load())
	}
	rss := p.peakRSS(t)
	t.Logf("1,000 concurrent sign-ins: %v, peak memory %.0f MiB", statuses, rss)
	if rss > 400 && !raceEnabled { // the bound is the real binary's; -race inflates memory
		t.Fatalf("peak memory %.0f MiB, want under 400", rss)
	}
}

// Drill 5: slow clients. A body trickled a byte a second and 500 connections that send nothing
// are closed at the server's timeouts, while other clients are served as usual.
func TestDrillSlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("drill")
	}
	p := startProcess(t, map[string]string{"AUTH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "a.db"),
		"AUTH_READ_HEADER_TIMEOUT": "1s", "AUTH_READ_TIMEOUT": "2s", "AUTH_IDLE_TIMEOUT": "2s"})
	addr := strings.TrimPrefix(p.url, "http://")

	var idle []net.Conn
	for range 500 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	trickle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer trickle.Close()
	fmt.Fprintf(trickle, "POST /auth/token/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
	trickleClosed := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		for range 100 {
			if _, err := trickle.Write([]byte(" ")); err != nil {
				break
			}
			time.Sleep(time.Second)
		}
		trickleClosed <- time.Since(start)
	}()

	// Others are served meanwhile.
	for range 10 {
		t0 := time.Now()
		if code, _ := health(t, p.url); code != 200 || time.Since(t0) > time.Second {
			t.Fatalf("healthz during the slow clients: %d after %v", code, time.Since(t0))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The connections that sent nothing are closed at the header timeout.
	for i, c := range idle {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("idle connection %d still open after the header timeout (%v)", i, err)
		}
	}
	select {
	case d := <-trickleClosed:
		if d > 6*time.Second {
			t.Fatalf("the trickling client was cut after %v, want about the 2 s read timeout", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the trickling client was never cut off")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
