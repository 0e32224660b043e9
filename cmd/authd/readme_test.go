package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The README's walk through the API runs as pasted, from top to bottom, and every step answers
// what the comment below it says.
func TestReadmeWalkThroughRunsAsPasted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds authd and runs the README's walk-through: left out by -short")
	}
	for _, tool := range []string{"bash", "curl", "paste", "sed", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's walk-through needs %s, which is not installed", tool)
		}
	}
	script := docBlock(t, "../../README.md", "## A walk through the API", "sh")
	// The README serves on the default address; here a free one, so nothing else can answer.
	addr := freeAddr(t)
	script = strings.ReplaceAll(script, "127.0.0.1:8000", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "export AUTH_ADDR="+addr+"\n"+script)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walk-through failed: %v\n%s", err, out)
	}
	var expected []string
	for _, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(line, "# {") {
			expected = append(expected, strings.TrimPrefix(line, "# "))
		}
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != len(expected) {
		t.Fatalf("%d answers, want %d as the README shows:\n%s", len(got), len(expected), out)
	}
	for i, want := range expected {
		// "eyJ..." in the README stands for a token.
		pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(want), regexp.QuoteMeta("eyJ..."), `eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`) + "$"
		if !regexp.MustCompile(pattern).MatchString(got[i]) {
			t.Errorf("step %d answered\n  %s\nthe README says\n  %s", i+1, got[i], want)
		}
	}
}

// docBlock returns the first fenced block of the given language after heading in the file.
func docBlock(t *testing.T, file, heading, lang string) string {
	t.Helper()
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), heading)
	if !ok {
		t.Fatalf("%s has no section %q", file, heading)
	}
	_, block, ok := strings.Cut(section, "```"+lang+"\n")
	if !ok {
		t.Fatalf("%s: section %q has no %s block", file, heading, lang)
	}
	block, _, ok = strings.Cut(block, "\n```")
	if !ok {
		t.Fatalf("%s: the %s block of %q is not closed", file, lang, heading)
	}
	return block + "\n"
}
