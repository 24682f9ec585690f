// Command bot runs share-bucket: a Slack bot that hands a collaborator
// temporary, least-privilege access to a folder of an S3 bucket after a
// human approves.
//
//	bot              run the bot (configured by environment variables)
//	bot -help        list every variable with its default
//	bot check        validate the configuration and test Slack and AWS
//	bot audit        print the audit log as JSON lines
//	bot healthcheck  probe the running bot's /healthz (for containers)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
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

// run dispatches a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "healthcheck":
		return healthcheck(ctx, stderr)
	case "audit":
		return audit(ctx, args, stdout, stderr)
	case "check":
		return check(ctx, stdout, stderr)
	case "", "run":
	default:
		fmt.Fprintf(stderr, "bot: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}

	cfg, warnings, err := loadConfig()
	if err != nil {
		fmt.Fprintf(stderr, "bot: configuration: %v\n(run `bot -help` for the list of variables)\n", err)
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

// loadConfig reads and validates the environment.
func loadConfig() (*Config, []string, error) {
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		return nil, nil, cleanEnvError(err)
	}
	warnings, err := cfg.Validate()
	if err != nil {
		return nil, nil, err
	}
	return &cfg, warnings, nil
}

// cleanEnvError drops envconfig's echo of the offending value when the
// variable holds a secret.
func cleanEnvError(err error) error {
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		switch pe.KeyName {
		case "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "DATABASE_URL":
			return fmt.Errorf("%s: cannot be read", pe.KeyName)
		}
		return fmt.Errorf("%s: %v", pe.KeyName, pe.Err)
	}
	return err
}

// usage prints every variable with its default and meaning.
func usage(w io.Writer) {
	fmt.Fprint(w, `share-bucket: temporary, approved access to a folder of an S3 bucket, from Slack.

Usage:
  bot              run the bot
  bot check        validate the configuration, then test Slack (auth.test) and AWS
                   (GetCallerIdentity, and AssumeRole with a deny-everything policy)
  bot audit [-since DURATION] [-request ID]
                   print the audit log as JSON lines
  bot healthcheck  exit 0 if the running bot answers on HTTP_ADDR/healthz
  bot -help        this text

AWS credentials, region and endpoints come from the SDK's standard chain
(AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_STS, …).

`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
