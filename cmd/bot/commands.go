package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/share-bucket/share-bucket/internal/approval"
)

// envOr returns the environment variable or def.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// healthcheck probes /healthz of the bot running on HTTP_ADDR.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code := parseFlags(flags("healthcheck", stdout, stderr), args, stderr); code >= 0 {
		return code
	}
	addr := envOr("HTTP_ADDR", ":8080")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: HTTP_ADDR: %q is not host:port\n", addr)
		return 1
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s\n", resp.Status)
		return 1
	}
	return 0
}

// auditLine is one audit event as printed by `bot audit`.
type auditLine struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	RequestID string            `json:"request_id"`
	Event     string            `json:"event"`
	Actor     string            `json:"actor,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
}

// audit prints the audit log. It needs only DATABASE_URL, so an operator
// can read it without the bot's tokens.
func audit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flags("audit", stdout, stderr)
	var since time.Duration
	fs.Func("since", "only events newer than this, like 24h, 1d or 90m", func(s string) error {
		d, err := approval.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration; write it like 24h, 1d or 90m", s)
		}
		since = d
		return nil
	})
	request := fs.String("request", "", "only events of this request ID")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if *request != "" && !approval.ValidID(strings.ToUpper(*request)) {
		fmt.Fprintf(stderr, "bot audit: -request %q is not a request ID (like K7QX2M4RTA)\n", *request)
		return 2
	}
	dbURL := envOr("DATABASE_URL", "sqlite:share-bucket.db")
	// Reading must not create: a mistyped path would otherwise give an
	// empty database and an empty, misleading audit log.
	if kind, path, err := storeKind(dbURL); err == nil && kind == "sqlite" {
		if _, err := os.Stat(path); err != nil {
			fmt.Fprintf(stderr, "bot audit: DATABASE_URL: no SQLite database at %s (%v); point DATABASE_URL at the bot's file\n", path, errors.Unwrap(err))
			return 1
		}
	}
	store, err := openStore(ctx, dbURL)
	if err != nil {
		fmt.Fprintf(stderr, "bot audit: %v\n", err)
		return 1
	}
	defer store.Close()
	f := approval.AuditFilter{RequestID: strings.ToUpper(*request)}
	if since > 0 {
		f.Since = time.Now().Add(-since)
	}
	evs, err := store.Audit(ctx, f)
	if err != nil {
		fmt.Fprintf(stderr, "bot audit: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	for _, ev := range evs {
		_ = enc.Encode(auditLine{Seq: ev.Seq, Time: ev.At.UTC(), RequestID: ev.RequestID, Event: string(ev.Kind), Actor: ev.Actor, Detail: ev.Detail})
	}
	return 0
}

// redactURL shows a database URL without its password.
func redactURL(s string) string {
	kind, _, err := storeKind(s)
	if err != nil || kind == "sqlite" {
		return s
	}
	return "postgres (" + prefixOf(s) + "…)"
}
