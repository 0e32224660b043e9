package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
)

// command is one of authd's subcommands: the words that name it, then its own flags.
type command struct {
	words, args, summary string
	run                  func(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error
}

// commands are authd's subcommands, in the order `authd -h` lists them.
func commands() []command {
	return []command{
		{"keys rotate", "[-activate-after duration]", "add a signing key and a refresh key; running instances load them within AUTH_KEY_RELOAD_INTERVAL", rotateKeys},
		{"import django", "[-dry-run] FILE|-", "import the original Django service's users, Google links and token blacklist from manage.py dumpdata JSON", importDjango},
		{"bench", "[flags]", "load a running server and report its throughput and latency", runBench},
		{"bench seed", "[-users n] [-tokens n]", "add synthetic users and refresh tokens to the database, for scale tests", seed},
		{"bench django-dump", "[-users n]", "write a synthetic manage.py dumpdata file of n users to standard output, for timing authd import django", djangoDump},
		{"version", "", "print the version and the commit authd was built from (also authd -version)", runVersion},
	}
}

// runCommand runs the command whose words args start with. A word that only begins commands
// ("keys") prints those commands; anything else is a usageError naming it.
func runCommand(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) error {
	if args[0] == "-version" || args[0] == "--version" {
		return runVersion(ctx, args[1:], env, stdout, stderr)
	}
	cmds := commands()
	// The longest name first: "bench seed" before "bench".
	slices.SortStableFunc(cmds, func(a, b command) int { return len(strings.Fields(b.words)) - len(strings.Fields(a.words)) })
	for _, c := range cmds {
		words := strings.Fields(c.words)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c.run(ctx, args[len(words):], env, stdout, stderr)
		}
	}
	var group []command
	for _, c := range commands() {
		if strings.HasPrefix(c.words, args[0]+" ") {
			group = append(group, c)
		}
	}
	if len(group) == 0 {
		return usageError{msg: fmt.Sprintf("unknown command %q: authd -h lists the commands", args[0])}
	}
	help := len(args) == 1 || slices.Contains([]string{"-h", "-help", "--help"}, args[1])
	if !help {
		return usageError{msg: fmt.Sprintf("unknown command %q: authd -h lists the commands", args[0]+" "+args[1])}
	}
	fmt.Fprintf(stderr, "Usage: authd %s <command>\n\nCommands:\n", args[0])
	listCommands(stderr, group)
	fmt.Fprintf(stderr, "\n`authd %s -h` describes a command.\n", group[0].words)
	if len(args) == 1 {
		return usageError{msg: "no command after " + args[0], shown: true}
	}
	return flag.ErrHelp
}

// usage is `authd -h`: the commands, then the server's settings.
func usage(out io.Writer) {
	fmt.Fprint(out, "authd: an authentication service.\n\nUsage:\n")
	listCommands(out, append([]command{{args: "[flags]", summary: "serve the API, with the settings below"}}, commands()...))
	fmt.Fprint(out, "\n`authd <command> -h` describes a command and its flags.\n\n"+
		"Settings. Each flag can also be set by the environment variable shown (a flag wins); the commands\n"+
		"that open the database read them too. A variable named AUTH_... that is no setting stops authd.\n\n")
	printSettings(out)
}

func listCommands(out io.Writer, cmds []command) {
	tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.Join(strings.Fields("authd "+c.words+" "+c.args), " "), c.summary)
	}
	tw.Flush()
}

// runVersion is `authd version`.
func runVersion(_ context.Context, args []string, _ environment, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: authd version\n\nPrints, in one line, the module version and the commit authd was built from (also authd -version).\n")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{msg: fmt.Sprintf("unexpected argument %q: authd version takes none", fs.Arg(0))}
	}
	fmt.Fprintln(stdout, "authd", version())
	return nil
}

// version is the module version and the commit this binary was built from, as the Go toolchain
// recorded them: "v1.2.0, commit 5d5049c…", with " (modified)" when the work tree had changes.
func version() string {
	info, ok := debug.ReadBuildInfo()
	return formatVersion(info, ok)
}

// formatVersion is version for a build's info: "(devel)" and "unknown" for what it lacks.
func formatVersion(info *debug.BuildInfo, ok bool) string {
	v, commit, modified := "(devel)", "unknown", false
	if ok {
		if info.Main.Version != "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	out := v + ", commit " + commit
	if modified {
		out += " (modified)"
	}
	return out
}
