// Package sharebucket_test checks slack-app-manifest.yaml: its settings,
// and that its bot scopes are exactly those the Slack Web API methods
// called in internal/slackapp and cmd/bot require.
package sharebucket_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	manifestPath = "slack-app-manifest.yaml"
	slackappDir  = "internal/slackapp"
)

// callerDirs hold every call the bot makes to the Slack Web API.
var callerDirs = []string{slackappDir, "cmd/bot"}

// manifest is the part of the Slack app manifest schema that
// slack-app-manifest.yaml uses. Decoding with KnownFields rejects any other
// key, so a misspelt setting fails the test instead of being ignored.
type manifest struct {
	Metadata struct {
		MajorVersion int `yaml:"major_version"`
		MinorVersion int `yaml:"minor_version"`
	} `yaml:"_metadata"`
	DisplayInformation struct {
		Name            string `yaml:"name"`
		Description     string `yaml:"description"`
		LongDescription string `yaml:"long_description"`
		BackgroundColor string `yaml:"background_color"`
	} `yaml:"display_information"`
	Features struct {
		AppHome *struct {
			HomeTabEnabled             bool `yaml:"home_tab_enabled"`
			MessagesTabEnabled         bool `yaml:"messages_tab_enabled"`
			MessagesTabReadOnlyEnabled bool `yaml:"messages_tab_read_only_enabled"`
		} `yaml:"app_home"`
		BotUser *struct {
			DisplayName  string `yaml:"display_name"`
			AlwaysOnline bool   `yaml:"always_online"`
		} `yaml:"bot_user"`
		SlashCommands []struct {
			Command      string `yaml:"command"`
			URL          string `yaml:"url"`
			Description  string `yaml:"description"`
			UsageHint    string `yaml:"usage_hint"`
			ShouldEscape *bool  `yaml:"should_escape"`
		} `yaml:"slash_commands"`
	} `yaml:"features"`
	OAuthConfig struct {
		RedirectURLs []string `yaml:"redirect_urls"`
		Scopes       struct {
			Bot  []string `yaml:"bot"`
			User []string `yaml:"user"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		EventSubscriptions *struct {
			RequestURL string   `yaml:"request_url"`
			BotEvents  []string `yaml:"bot_events"`
			UserEvents []string `yaml:"user_events"`
		} `yaml:"event_subscriptions"`
		Interactivity struct {
			IsEnabled             bool   `yaml:"is_enabled"`
			RequestURL            string `yaml:"request_url"`
			MessageMenuOptionsURL string `yaml:"message_menu_options_url"`
		} `yaml:"interactivity"`
		OrgDeployEnabled     bool `yaml:"org_deploy_enabled"`
		SocketModeEnabled    bool `yaml:"socket_mode_enabled"`
		TokenRotationEnabled bool `yaml:"token_rotation_enabled"`
	} `yaml:"settings"`
}

func readManifest(tb testing.TB) manifest {
	tb.Helper()
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		tb.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m manifest
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("%s: %v", manifestPath, err)
	}
	return m
}

func TestManifestSettings(t *testing.T) {
	m := readManifest(t)
	if m.Metadata.MajorVersion != 1 {
		t.Errorf("_metadata.major_version = %d; want 1", m.Metadata.MajorVersion)
	}
	if n := len(m.DisplayInformation.Name); n == 0 || n > 35 {
		t.Errorf("display_information.name %q: want 1-35 characters", m.DisplayInformation.Name)
	}
	if n := len(m.DisplayInformation.Description); n > 140 {
		t.Errorf("display_information.description has %d characters; Slack allows 140", n)
	}
	if n := len(m.DisplayInformation.LongDescription); n != 0 && (n < 175 || n > 4000) {
		t.Errorf("display_information.long_description has %d characters; Slack wants 175-4000", n)
	}

	// Socket Mode: no public endpoint anywhere.
	s := m.Settings
	if !s.SocketModeEnabled {
		t.Error("settings.socket_mode_enabled is false")
	}
	if !s.Interactivity.IsEnabled {
		t.Error("settings.interactivity.is_enabled is false; the Approve/Deny buttons and the modal need it")
	}
	if s.Interactivity.RequestURL != "" || s.Interactivity.MessageMenuOptionsURL != "" {
		t.Error("interactivity has a request URL; Socket Mode delivers interactions over the socket")
	}
	// The one event is app_home_opened (no scope), delivered over the
	// socket: no request URL, no user events.
	if e := s.EventSubscriptions; e == nil || !slices.Equal(e.BotEvents, []string{"app_home_opened"}) || e.RequestURL != "" || len(e.UserEvents) != 0 {
		t.Errorf("settings.event_subscriptions = %+v; want bot_events [app_home_opened] only, no request_url", e)
	}

	if m.Features.BotUser == nil || m.Features.BotUser.DisplayName == "" {
		t.Error("features.bot_user.display_name is missing; without a bot user there is no xoxb- token")
	}
	if h := m.Features.AppHome; h == nil || !h.MessagesTabEnabled || !h.HomeTabEnabled {
		t.Error("features.app_home: messages_tab_enabled and home_tab_enabled must be true; the bot's DMs show in the Messages tab, requests and grants in the Home tab")
	}

	if len(m.Features.SlashCommands) != 1 {
		t.Fatalf("got %d slash commands; want 1", len(m.Features.SlashCommands))
	}
	c := m.Features.SlashCommands[0]
	if c.Command != "/share-bucket" {
		t.Errorf("command = %q; want /share-bucket", c.Command)
	}
	if c.URL != "" {
		t.Errorf("command url = %q; Socket Mode needs none", c.URL)
	}
	if c.Description == "" {
		t.Error("command has no description")
	}
	if want := "[get|put] [s3://]bucket[/folder/ or /key] [duration] [read|write] reason… | list | link ID | extend ID 1h reason | help"; c.UsageHint != want {
		t.Errorf("usage_hint = %q; want %q", c.UsageHint, want)
	}
	// should_escape turns @mentions and #channels in the text into IDs.
	if c.ShouldEscape == nil || !*c.ShouldEscape {
		t.Error("should_escape is not true")
	}

	if len(m.OAuthConfig.Scopes.User) != 0 {
		t.Errorf("user scopes %q requested; the bot acts only as itself", m.OAuthConfig.Scopes.User)
	}
	if len(m.OAuthConfig.RedirectURLs) != 0 {
		t.Errorf("redirect_urls %q; the app is installed from its settings page, not by OAuth", m.OAuthConfig.RedirectURLs)
	}
}

// A webMethod is the Slack Web API method behind a slack-go client method
// and the bot scopes Slack requires for it (from the method's page on
// docs.slack.dev, and /work/shared/SLACK.md section 5).
type webMethod struct {
	api    string
	scopes []string
}

// methodScopes maps slack-go *slack.Client methods, without their
// "Context" suffix, to their Web API method. scanSlackCalls finds every
// call to a slack-go client method in internal/slackapp; one missing here
// fails TestManifestScopes, so a new call forces a look at its scopes.
var methodScopes = map[string]webMethod{
	"PostMessage":   {"chat.postMessage", []string{"chat:write"}},
	"UpdateMessage": {"chat.update", []string{"chat:write"}},
	"PostEphemeral": {"chat.postEphemeral", []string{"chat:write"}},
	"DeleteMessage": {"chat.delete", []string{"chat:write"}},
	// SendMessage is what PostMessage, UpdateMessage, PostEphemeral and
	// DeleteMessage call; with MsgOptionResponseURL it posts to a
	// response_url, which needs no scope, but the other uses need chat:write.
	"SendMessage": {"chat.* or response_url", []string{"chat:write"}},
	// conversations.open accepts channels:manage, groups:write, im:write or
	// mpim:write; the bot opens one-to-one DMs only.
	"OpenConversation": {"conversations.open", []string{"im:write"}},
	"GetUserInfo":      {"users.info", []string{"users:read"}},
	"GetUsersInfo":     {"users.info", []string{"users:read"}},
	// Approver groups: usergroups.users.list needs usergroups:read.
	"GetUserGroupMembers": {"usergroups.users.list", []string{"usergroups:read"}},
	"AuthTest":            {"auth.test", nil},
	"OpenView":            {"views.open", nil},
	"UpdateView":          {"views.update", nil},
	"PushView":            {"views.push", nil},
	"PublishView":         {"views.publish", nil},
	// apps.connections.open, with the app-level token (connections:write),
	// not the bot token; socketmode.Client calls it itself.
	"StartSocketMode": {"apps.connections.open", nil},
}

func TestManifestScopes(t *testing.T) {
	var calls []slackCall
	methods := slackAPIMethods(t)
	for _, dir := range callerDirs {
		found, err := scanSlackCalls(dir, methods)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if len(found) == 0 {
			t.Fatalf("no Slack API calls found in %s", dir)
		}
		calls = append(calls, found...)
	}
	for _, c := range calls {
		t.Logf("%s: %s", c.pos, c.expr)
	}
	m := readManifest(t)
	need, unknown := requiredScopes(calls, len(m.Features.SlashCommands) > 0)
	for _, c := range unknown {
		t.Errorf("%s: %s calls Slack method %s, which methodScopes does not list; add it with the scopes from its Slack API page, then update the manifest", c.pos, c.expr, c.method)
	}

	have := map[string]bool{}
	for _, s := range m.OAuthConfig.Scopes.Bot {
		if have[s] {
			t.Errorf("bot scope %s is listed twice", s)
		}
		have[s] = true
	}
	for s, why := range need {
		if !have[s] {
			t.Errorf("bot scope %s is missing; needed by %s", s, strings.Join(why, ", "))
		}
	}
	for s := range have {
		if _, ok := need[s]; !ok {
			t.Errorf("bot scope %s is requested but no call in %v needs it", s, callerDirs)
		}
	}
}

// requiredScopes returns the bot scopes the calls need, each with the
// reasons, and the calls that methodScopes does not know.
func requiredScopes(calls []slackCall, slashCommand bool) (map[string][]string, []slackCall) {
	need := map[string][]string{}
	if slashCommand {
		need["commands"] = []string{"the slash command"}
	}
	var unknown []slackCall
	for _, c := range calls {
		wm, ok := methodScopes[c.method]
		if !ok {
			unknown = append(unknown, c)
			continue
		}
		for _, s := range wm.scopes {
			why := wm.api + " (" + c.pos + ")"
			if !slices.Contains(need[s], why) {
				need[s] = append(need[s], why)
			}
		}
	}
	return need, unknown
}

// A slackCall is a use of a slack-go client method in the bot's code.
type slackCall struct {
	method string // client method name without "Context", e.g. "PostMessage"
	expr   string // as written, e.g. "PostMessageContext"
	pos    string // file:line
}

// slackAPIMethods returns the names of the *slack.Client methods that call
// the Web API, without their "Context" suffix: those declared as
// "func (api *Client) NameContext(" in the slack-go module this repository
// requires. socketmode.Client embeds slack.Client, so the set covers it too.
func slackAPIMethods(tb testing.TB) map[string]bool {
	tb.Helper()
	apiMethodsOnce.Do(func() { apiMethods, apiMethodsErr = loadSlackAPIMethods() })
	if apiMethodsErr != nil {
		tb.Fatal(apiMethodsErr)
	}
	return apiMethods
}

var (
	apiMethodsOnce sync.Once
	apiMethods     map[string]bool
	apiMethodsErr  error
)

func loadSlackAPIMethods() (map[string]bool, error) {
	out, err := exec.Command("go", "mod", "download", "-json", "github.com/slack-go/slack").Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download github.com/slack-go/slack: %w", err)
	}
	var mod struct{ Dir, Version string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return nil, fmt.Errorf("go mod download: %s: %v", out, err)
	}
	files, err := filepath.Glob(filepath.Join(mod.Dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	methods := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 || !fn.Name.IsExported() {
				continue
			}
			star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			if id, ok := star.X.(*ast.Ident); !ok || id.Name != "Client" {
				continue
			}
			if name, ok := strings.CutSuffix(fn.Name.Name, "Context"); ok && name != "" {
				methods[name] = true
			}
		}
	}
	// Guard against a change in slack-go's layout making the set empty.
	for _, m := range []string{"PostMessage", "OpenView", "AuthTest", "OpenConversation"} {
		if !methods[m] {
			return nil, fmt.Errorf("slack-go %s in %s has no %sContext method; the scan is broken", mod.Version, mod.Dir, m)
		}
	}
	return methods, nil
}

// scanSlackCalls parses the non-test Go files under dir and returns every
// selector X.Name or X.NameContext where Name is in api and X is not an
// imported package: calls, and method values passed elsewhere. It does not
// type-check, so a method of another type with the same name counts too.
func scanSlackCalls(dir string, api map[string]bool) ([]slackCall, error) {
	var calls []slackCall
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkgs := map[string]bool{}
		for _, imp := range file.Imports {
			pkgs[importName(imp)] = true
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && pkgs[id.Name] {
				return true // pkg.Func, e.g. slack.New or slack.PostWebhookContext
			}
			name := strings.TrimSuffix(sel.Sel.Name, "Context")
			if api[name] {
				pos := fset.Position(sel.Sel.Pos())
				calls = append(calls, slackCall{method: name, expr: sel.Sel.Name, pos: fmt.Sprintf("%s:%d", filepath.ToSlash(pos.Filename), pos.Line)})
			}
			return true
		})
		return nil
	})
	sort.Slice(calls, func(i, j int) bool { return calls[i].pos < calls[j].pos })
	return calls, err
}

var versionSuffix = regexp.MustCompile(`^v[0-9]+$`)

// importName returns the name a file uses for an import: its alias, or
// the last path element (the one before a /vN suffix).
func importName(imp *ast.ImportSpec) string {
	if imp.Name != nil {
		return imp.Name.Name
	}
	p, _ := strconv.Unquote(imp.Path.Value)
	base := path.Base(p)
	if versionSuffix.MatchString(base) {
		base = path.Base(path.Dir(p))
	}
	return strings.TrimPrefix(base, "go-")
}

// TestScanSlackCalls checks the scanner on a small copy of what
// internal/slackapp may look like, so TestManifestScopes cannot pass or
// fail because the scanner is broken.
func TestScanSlackCalls(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("bot.go", `package slackapp

import (
	"context"
	"strings"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

type poster interface {
	PostMessageContext(ctx context.Context, channel string, opts ...slack.MsgOption) (string, string, error)
}

func run(ctx context.Context, api *slack.Client, sm *socketmode.Client, p poster) {
	api = slack.New("xoxb-")
	_, _, _ = p.PostMessageContext(ctx, "C1")
	_, _ = sm.OpenView("trigger", slack.ModalViewRequest{})
	_ = strings.Join(nil, ",")
	_ = slack.PostWebhookContext(ctx, "https://hooks", nil)
	lookup := api.GetUserInfoContext
	_, _ = lookup(ctx, "U1")
}
`)
	write("notify/notify.go", `package notify

func f(c interface{ AuthTestContext(any) }) { c.AuthTestContext(nil) }
`)
	write("bot_test.go", `package slackapp

func g(api interface{ GetConversationInfoContext() }) { api.GetConversationInfoContext() }
`)
	write("testdata/x.go", `package x

func h(api interface{ DeleteMessage() }) { api.DeleteMessage() }
`)

	calls, err := scanSlackCalls(dir, slackAPIMethods(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range calls {
		got = append(got, c.expr+"@"+path.Base(c.pos))
	}
	want := []string{"PostMessageContext@bot.go:17", "OpenView@bot.go:18", "GetUserInfoContext@bot.go:21", "AuthTestContext@notify.go:3"}
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("scan found %q; want %q", got, want)
	}

	need, unknown := requiredScopes(calls, true)
	var scopes []string
	for s := range need {
		scopes = append(scopes, s)
	}
	if got, want := sorted(scopes), []string{"chat:write", "commands", "users:read"}; !slices.Equal(got, want) {
		t.Errorf("required scopes %q; want %q", got, want)
	}
	if len(unknown) != 0 {
		t.Errorf("unknown calls %v", unknown)
	}

	// A call missing from methodScopes is reported, not ignored.
	write("channel.go", `package slackapp

func i(api interface{ GetConversationInfoContext() }) { api.GetConversationInfoContext() }
`)
	calls, err = scanSlackCalls(dir, slackAPIMethods(t))
	if err != nil {
		t.Fatal(err)
	}
	_, unknown = requiredScopes(calls, true)
	if len(unknown) != 1 || unknown[0].method != "GetConversationInfo" {
		t.Errorf("unknown calls %v; want GetConversationInfo", unknown)
	}

	// A tree without calls yields none.
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "doc.go"), []byte("package slackapp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if calls, err := scanSlackCalls(empty, slackAPIMethods(t)); err != nil || len(calls) != 0 {
		t.Errorf("empty package: calls %v, err %v", calls, err)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
