package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The systemd unit in docs/deploy.md runs authd as an unprivileged, confined service that is
// given time to drain on stop, and systemd parses every line of it.
func TestSystemdUnitInTheDocs(t *testing.T) {
	unit := docBlock(t, "../../docs/deploy.md", "## Under systemd", "ini")
	settings := map[string]string{}
	for _, line := range strings.Split(unit, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = v
		}
	}
	for k, want := range map[string]string{
		"ExecStart": "/usr/local/bin/authd", "DynamicUser": "yes", "StateDirectory": "authd", "StateDirectoryMode": "0700",
		"Environment": "AUTH_DATABASE_URL=sqlite:/var/lib/authd/authd.db", "EnvironmentFile": "/etc/authd/authd.env",
		"KillSignal": "SIGTERM", "Restart": "on-failure", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
	} {
		if got, set := settings[k]; !set || got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	// authd drains for up to shutdownTimeout; systemd must wait longer before it kills.
	if stop, err := time.ParseDuration(settings["TimeoutStopSec"]); err != nil || stop <= shutdownTimeout {
		t.Errorf("TimeoutStopSec=%s, want longer than authd's %v drain", settings["TimeoutStopSec"], shutdownTimeout)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit's syntax is not checked by systemd")
		return
	}
	// Verified as written, but for the paths this machine has.
	dir := t.TempDir()
	env := filepath.Join(dir, "authd.env")
	os.WriteFile(env, nil, 0o600)
	self, _ := os.Executable()
	unit = strings.NewReplacer("/usr/local/bin/authd", self, "/etc/authd/authd.env", env).Replace(unit)
	path := filepath.Join(dir, "authd.service")
	os.WriteFile(path, []byte(unit), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The Dockerfile makes an image from the static binary alone, run by an unprivileged user with a
// data volume; where a Docker engine runs, it builds.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	for _, want := range []string{"\nFROM scratch\n", "\nUSER 65532:65532\n", "\nVOLUME /data\n", "AUTH_DATABASE_URL=sqlite:/data/authd.db", `ENTRYPOINT ["/authd"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", strings.TrimSpace(want))
		}
	}
	if testing.Short() {
		t.Skip("building the image is left out by -short")
	}
	docker, err := exec.LookPath("docker")
	if err != nil || exec.Command(docker, "info").Run() != nil {
		t.Skip("no Docker engine runs here: the image is not built (docker build needs one)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", "authd", "./cmd/authd")
	build.Dir, build.Env = "../..", append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	defer os.Remove("../../authd")
	tag := "authd-test:" + time.Now().Format("20060102150405")
	img := exec.CommandContext(ctx, docker, "build", "-t", tag, ".")
	img.Dir = "../.."
	if out, err := img.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	exec.Command(docker, "rmi", tag).Run()
}
