// Command bot runs share-bucket: a Slack bot that hands a collaborator
// temporary, least-privilege access to a folder of an S3 bucket after a
// human approves.
//
//	bot              run the bot (configured by environment variables)
//	bot -help        list every variable with its default
//	bot check        validate the configuration and test Slack and AWS
//	bot audit        print the audit log as JSON lines
//	bot healthcheck  probe the running bot's /healthz (for containers)
//	bot version      print the version and source revision
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// A command is a subcommand: its one-line summary, its usage line and
// what it runs. Each parses its own flags, so "bot check -help" prints
// help instead of running the check.
type command struct {
	summary string
	usage   string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"run": {"run the bot (the default)", "bot [run]", serve},
		"check": {"validate the configuration, then test Slack (auth.test, Socket Mode) and AWS (GetCallerIdentity, AssumeRole and a listing for each ALLOWED_BUCKETS entry)",
			"bot check", check},
		"audit":       {"print the audit log as JSON lines (needs only DATABASE_URL)", "bot audit [-since DURATION] [-request ID]", audit},
		"healthcheck": {"exit 0 if the bot running on HTTP_ADDR answers /healthz", "bot healthcheck", healthcheck},
		"version":     {"print the version and source revision", "bot version", version},
	}
}

// run dispatches a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"run"}
	}
	if args[0] == "help" || isHelp(args[0]) {
		usage(stdout)
		return 0
	}
	name := "run"
	if !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "bot: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	return c.run(ctx, args, stdout, stderr)
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help":
		return true
	}
	return false
}

// flags returns a flag set for command name whose -help prints the
// command's usage to stdout.
func flags(name string, stdout, stderr io.Writer) *flag.FlagSet {
	c := commands[name]
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: %s\n\n%s.\n", c.usage, upperFirst(c.summary))
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(stdout, "\nFlags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fs.SetOutput(stderr)
		}
		if name == "run" || name == "check" {
			fmt.Fprintln(stdout, "\nIt reads the environment variables listed by `bot -help`.")
		}
	}
	return fs
}

// parseFlags parses args for command name. It returns the exit code to
// stop with, or -1 to go on: 0 after -help, 2 for a bad flag or a stray
// argument.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bot %s: unexpected argument %q (see `bot %s -help`)\n", fs.Name(), fs.Arg(0), fs.Name())
		return 2
	}
	return -1
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// serve runs the bot until a signal or a fatal error.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code := parseFlags(flags("run", stdout, stderr), args, stderr); code >= 0 {
		return code
	}
	cfg, warnings, err := loadConfig()
	if err != nil {
		fmt.Fprintf(stderr, "bot: configuration:\n%s\n(run `bot -help` for the list of variables)\n", indent(err.Error()))
		return 2
	}
	log, err := newLogger(cfg.LogLevel, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bot: LOG_LEVEL: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	for _, w := range warnings {
		log.Warn("configuration: " + w)
	}
	m := NewMain(cfg, log)
	if err := m.Run(ctx); err != nil {
		log.Error("share-bucket stopped", zap.Error(err))
		return 1
	}
	log.Info("share-bucket stopped")
	return 0
}

// indent puts two spaces before each line of s.
func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// version prints the module version and the VCS revision the binary was
// built from, as the Go toolchain recorded them.
func version(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code := parseFlags(flags("version", stdout, stderr), args, stderr); code >= 0 {
		return code
	}
	fmt.Fprintln(stdout, versionString())
	return 0
}

func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "share-bucket (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	out := "share-bucket " + v
	if rev := settings["vcs.revision"]; rev != "" {
		out += " revision " + rev
		if settings["vcs.modified"] == "true" {
			out += " (modified)"
		}
		if t := settings["vcs.time"]; t != "" {
			out += " from " + t
		}
	}
	return out + " built with " + bi.GoVersion
}

// usage prints the commands and every variable with its default and
// meaning.
func usage(w io.Writer) {
	fmt.Fprint(w, "share-bucket: temporary, approved access to a folder of an S3 bucket, from Slack.\n\nUsage:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, name := range []string{"run", "check", "audit", "healthcheck", "version"} {
		c := commands[name]
		fmt.Fprintf(tw, "  %s\t%s\n", c.usage, c.summary)
	}
	fmt.Fprintf(tw, "  bot -help\tthis text; `bot COMMAND -help` explains one command\n")
	_ = tw.Flush()
	fmt.Fprint(w, `
AWS credentials, region and endpoints come from the SDK's standard chain
(AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_STS, …).
Durations are written 15m, 2h, 1h30m or 1d (seconds, like 20s, work too).

`)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_ = envconfig.Usagef("", &Config{}, tw, usageFormat)
	_ = tw.Flush()
}

const usageFormat = `VARIABLE	REQUIRED	DEFAULT	MEANING
{{range .}}{{usage_key .}}	{{if usage_required .}}yes{{end}}	{{usage_default .}}	{{usage_description .}}
{{end}}`

// newLogger builds a JSON logger, or a readable one on a terminal.
func newLogger(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(strings.ToLower(level))
	if err != nil {
		return nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	encoder := zapcore.NewJSONEncoder(enc)
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		dev := zap.NewDevelopmentEncoderConfig()
		encoder = zapcore.NewConsoleEncoder(dev)
	}
	core := zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core, zap.AddCaller()), nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
