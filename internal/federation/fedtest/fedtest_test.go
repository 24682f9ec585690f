package fedtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/share-bucket/share-bucket/internal/federation/fedtest"
)

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       5 * time.Second,
}

func session(id, key, token string) string {
	b, _ := json.Marshal(map[string]string{"sessionId": id, "sessionKey": key, "sessionToken": token})
	return string(b)
}

func get(t *testing.T, s *fedtest.Server, q url.Values) (int, string) {
	t.Helper()
	resp, err := noRedirect.Get(s.URL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusFound {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(body)
}

// signin gets a token and returns it, or fails.
func signin(t *testing.T, s *fedtest.Server, sess string) string {
	t.Helper()
	status, body := get(t, s, url.Values{"Action": {"getSigninToken"}, "Session": {sess}})
	if status != http.StatusOK {
		t.Fatalf("getSigninToken = %d %s", status, body)
	}
	var out struct{ SigninToken string }
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.SigninToken == "" {
		t.Fatalf("getSigninToken body %q: %v", body, err)
	}
	return out.SigninToken
}

func loginURL(s *fedtest.Server, token, dest string) string {
	return s.URL() + "?" + url.Values{"Action": {"login"}, "Issuer": {"test"}, "Destination": {dest}, "SigninToken": {token}}.Encode()
}

func TestRoundTrip(t *testing.T) {
	s := fedtest.New(t)
	if !strings.HasSuffix(s.URL(), "/federation") || !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %s", s.URL())
	}
	tok := signin(t, s, session("AKID", "SECRET", "TOKEN"))
	dest := "https://console.aws.amazon.com/s3/buckets/b?prefix=p%2F&region=us-east-1"
	login := loginURL(s, tok, dest)

	gotTok, gotDest, err := fedtest.ParseLogin(login)
	if err != nil || gotTok != tok || gotDest != dest {
		t.Errorf("ParseLogin = %q, %q, %v", gotTok, gotDest, err)
	}
	creds, err := s.CredentialsFor(login)
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "SECRET" || creds.SessionToken != "TOKEN" {
		t.Errorf("CredentialsFor = %+v", creds)
	}
	status, loc := get(t, s, url.Values{"Action": {"login"}, "Destination": {dest}, "SigninToken": {tok}})
	if status != http.StatusFound || loc != dest {
		t.Errorf("login = %d %q; want 302 to %q", status, loc, dest)
	}
	if s.Requests() != 2 {
		t.Errorf("Requests() = %d; want 2", s.Requests())
	}
	if tok2 := signin(t, s, session("AKID", "SECRET", "TOKEN")); tok2 == tok {
		t.Errorf("two sign-ins got the same token")
	}
}

func TestGetSigninTokenRejects(t *testing.T) {
	good := session("AKID", "SECRET", "TOKEN")
	tests := []struct {
		name string
		q    url.Values
		opts []fedtest.Option
	}{
		{"NoSession", url.Values{"Action": {"getSigninToken"}}, nil},
		{"NotJSON", url.Values{"Action": {"getSigninToken"}, "Session": {"{"}}, nil},
		{"NoKey", url.Values{"Action": {"getSigninToken"}, "Session": {session("AKID", "", "TOKEN")}}, nil},
		{"NoToken", url.Values{"Action": {"getSigninToken"}, "Session": {session("AKID", "SECRET", "")}}, nil},
		{"WrongFieldNames", url.Values{"Action": {"getSigninToken"}, "Session": {`{"AccessKeyId":"a","SecretAccessKey":"b","SessionToken":"c"}`}}, nil},
		{"NoAction", url.Values{"Session": {good}}, nil},
		{"DurationTooShort", url.Values{"Action": {"getSigninToken"}, "Session": {good}, "SessionDuration": {"899"}}, nil},
		{"DurationTooLong", url.Values{"Action": {"getSigninToken"}, "Session": {good}, "SessionDuration": {"43201"}}, nil},
		{"DurationChained", url.Values{"Action": {"getSigninToken"}, "Session": {good}, "SessionDuration": {"3600"}}, []fedtest.Option{fedtest.RejectSessionDuration()}},
		{"Verifier", url.Values{"Action": {"getSigninToken"}, "Session": {good}}, []fedtest.Option{fedtest.WithVerifier(func(context.Context, aws.Credentials) error { return errors.New("no") })}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fedtest.New(t, tt.opts...)
			status, body := get(t, s, tt.q)
			if status != http.StatusBadRequest || !strings.Contains(body, "<html>") {
				t.Errorf("= %d %q; want 400 with an HTML page", status, body)
			}
			if json.Valid([]byte(body)) {
				t.Errorf("error body is JSON; AWS answers HTML")
			}
		})
	}
	t.Run("DurationAccepted", func(t *testing.T) {
		s := fedtest.New(t)
		status, body := get(t, s, url.Values{"Action": {"getSigninToken"}, "Session": {good}, "SessionDuration": {"43200"}})
		if status != http.StatusOK {
			t.Errorf("= %d %s; want 200", status, body)
		}
	})
	t.Run("VerifierSees", func(t *testing.T) {
		var seen aws.Credentials
		s := fedtest.New(t, fedtest.WithVerifier(func(_ context.Context, c aws.Credentials) error { seen = c; return nil }))
		signin(t, s, good)
		if seen.AccessKeyID != "AKID" || seen.SecretAccessKey != "SECRET" || seen.SessionToken != "TOKEN" {
			t.Errorf("verifier saw %+v", seen)
		}
	})
	t.Run("Post", func(t *testing.T) {
		s := fedtest.New(t)
		resp, err := http.PostForm(s.URL(), url.Values{"Action": {"getSigninToken"}, "Session": {good}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST = %d; want 405 (AWS documents GET only)", resp.StatusCode)
		}
	})
}

func TestLoginRejects(t *testing.T) {
	s := fedtest.New(t, fedtest.WithTokenLifetime(100*time.Millisecond))
	tok := signin(t, s, session("AKID", "SECRET", "TOKEN"))
	for name, q := range map[string]url.Values{
		"UnknownToken":        {"Action": {"login"}, "Destination": {"https://console.aws.amazon.com/"}, "SigninToken": {"nope"}},
		"NoDestination":       {"Action": {"login"}, "SigninToken": {tok}},
		"RelativeDestination": {"Action": {"login"}, "Destination": {"/s3"}, "SigninToken": {tok}},
	} {
		if status, _ := get(t, s, q); status != http.StatusBadRequest {
			t.Errorf("%s: login = %d; want 400", name, status)
		}
	}
	time.Sleep(150 * time.Millisecond)
	if status, _ := get(t, s, url.Values{"Action": {"login"}, "Destination": {"https://console.aws.amazon.com/"}, "SigninToken": {tok}}); status != http.StatusBadRequest {
		t.Errorf("expired token: login = %d; want 400", status)
	}
	if _, err := s.CredentialsFor(loginURL(s, "nope", "https://x/")); err == nil {
		t.Errorf("CredentialsFor an unknown token succeeded")
	}
}

func TestParseLogin(t *testing.T) {
	for name, u := range map[string]string{
		"NotLogin":       "http://h/federation?Action=getSigninToken&SigninToken=t&Destination=https%3A%2F%2Fx%2F",
		"NoToken":        "http://h/federation?Action=login&Destination=https%3A%2F%2Fx%2F",
		"NoDestination":  "http://h/federation?Action=login&SigninToken=t",
		"BadDestination": "http://h/federation?Action=login&SigninToken=t&Destination=x",
		"BadQuery":       "http://h/federation?Action=login&SigninToken=t&Destination=%zz",
		"NotAURL":        "://",
	} {
		if _, _, err := fedtest.ParseLogin(u); err == nil {
			t.Errorf("%s: ParseLogin(%q) succeeded", name, u)
		}
	}
}

func TestFailNext(t *testing.T) {
	s := fedtest.New(t)
	s.FailNext(http.StatusServiceUnavailable)
	s.FailNext(http.StatusBadRequest)
	good := url.Values{"Action": {"getSigninToken"}, "Session": {session("a", "b", "c")}}
	for _, want := range []int{503, 400, 200} {
		if status, body := get(t, s, good); status != want {
			t.Errorf("= %d %s; want %d", status, body, want)
		}
	}
}

func TestSetDelay(t *testing.T) {
	s := fedtest.New(t)
	s.SetDelay(200 * time.Millisecond)
	start := time.Now()
	signin(t, s, session("a", "b", "c"))
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("answered after %s; want at least 200ms", d)
	}
	// A client that gives up does not keep the server busy.
	s.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"?Action=getSigninToken", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request succeeded despite a 1h delay")
	}
	s.SetDelay(0)
}

func TestStartClose(t *testing.T) {
	s, err := fedtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	u := s.URL()
	s.Close()
	if _, err := http.Get(u); err == nil {
		t.Errorf("server answers after Close")
	}
}
