// Package iamtest is a fake of the AWS IAM Query API for tests, including
// end-to-end tests where the bot binary reaches it through
// AWS_ENDPOINT_URL_IAM. It serves the four role inline-policy actions the
// bot uses: PutRolePolicy, GetRolePolicy, DeleteRolePolicy and
// ListRolePolicies.
//
// The wire shapes follow AWS's IAM API reference and its model (botocore
// botocore/data/iam/2010-05-08/service-2.json; aws-sdk-go-v2 service/iam
// v1.65.0, whose request and response snapshots are
// request_snapshot/PutRolePolicy.request.snap and
// response_snapshot/{Get,List}RolePolic*.response.snap):
//
//   - requests are form-encoded POSTs with Action and Version=2010-05-08;
//   - answers are XML in the namespace https://iam.amazonaws.com/doc/2010-05-08/,
//     <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata><RequestId>,
//     with an x-amzn-RequestId header and a Date header (RFC 1123) taken
//     from the server's clock, which tests can set (SetNow);
//   - GetRolePolicy returns the PolicyDocument URL-encoded per RFC 3986, as
//     the API reference says AWS does;
//   - ListRolePolicies pages with MaxItems, IsTruncated and Marker; Marker
//     is present only when IsTruncated is true;
//   - errors are <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>
//     with the model's HTTP statuses (see errorStatus).
//
// Requests must carry a SigV4 Authorization header whose credential scope
// names the service iam; signatures are not checked.
//
// The server enforces IAM's limit on the aggregate size of a role's inline
// policies (10,240 characters, whitespace not counted) and checks policy
// documents for JSON syntax and the grammar of an identity policy. Its
// policy checks are a subset of AWS's and its MalformedPolicyDocument
// messages are its own wording.
package iamtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Account is the AWS account ID of every role the server holds.
const Account = "123456789012"

// APIVersion is the only Version the IAM Query API accepts.
const APIVersion = "2010-05-08"

// Namespace is the XML namespace of IAM's answers.
const Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// MaxRolePolicySize is IAM's limit on the aggregate size of all inline
// policies of one role, in characters not counting whitespace (IAM User
// Guide, "IAM and AWS STS quotas"; GetAccountSummary's RolePolicySizeQuota).
const MaxRolePolicySize = 10240

// The actions the server serves.
const (
	PutRolePolicy    = "PutRolePolicy"
	GetRolePolicy    = "GetRolePolicy"
	DeleteRolePolicy = "DeleteRolePolicy"
	ListRolePolicies = "ListRolePolicies"
)

// Always makes Fail apply to every following call.
const Always = -1

// Write is one successful PutRolePolicy or DeleteRolePolicy, in the order
// the server applied them.
type Write struct {
	Action   string // PutRolePolicy or DeleteRolePolicy
	Role     string // role name
	Policy   string // policy name
	Document string // the document as sent; "" for a delete
	Time     time.Time
}

// Request is what the server saw of one request: no credential is kept,
// only the access key ID and the signing region of the credential scope.
type Request struct {
	Action      string
	AccessKeyID string
	Region      string
	Params      url.Values
}

type role struct {
	name     string
	path     string
	policies map[string]string // policy name → document as sent
}

type fault struct {
	code  string
	times int // remaining; Always for ever
}

// Server is a running fake IAM endpoint. Its methods are safe for
// concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	roles    map[string]*role // by lower-case name: IAM role names are unique regardless of case
	calls    map[string]int
	writes   []Write
	requests []Request
	faults   map[string][]*fault
	now      func() time.Time
	pageSize int
	delay    time.Duration
}

// New starts a Server and closes it when tb's test ends.
func New(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start()
	if err != nil {
		tb.Fatalf("iamtest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start starts a Server on a free port of 127.0.0.1. Close stops it.
func Start() (*Server, error) {
	s := &Server{
		roles:  make(map[string]*role),
		calls:  make(map[string]int),
		faults: make(map[string][]*fault),
		now:    time.Now,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(s.serve)}}
	s.srv.Start()
	return s, nil
}

// Close stops the server and waits for requests in flight.
func (s *Server) Close() { s.srv.Close() }

// URL returns the endpoint, http://127.0.0.1:<port>: the value for
// AWS_ENDPOINT_URL_IAM.
func (s *Server) URL() string { return s.srv.URL }

// CreateRole adds a role with path (such as "/" or "/team/app/"; "" means
// "/") and returns its ARN. Creating a role that exists keeps its policies.
func (s *Server) CreateRole(path, name string) string {
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") || !strings.HasSuffix(path, "/") {
		panic(fmt.Sprintf("iamtest: role path %q must begin and end with /", path))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(name)
	if _, ok := s.roles[key]; !ok {
		s.roles[key] = &role{name: name, path: path, policies: make(map[string]string)}
	}
	return "arn:aws:iam::" + Account + ":role" + path + name
}

// SetPolicy puts an inline policy on a role as an administrator would, for
// test setup: it is neither counted as a call nor recorded as a write, and
// it is not checked. The role must exist.
func (s *Server) SetPolicy(roleName, policyName, document string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.roles[strings.ToLower(roleName)]
	if r == nil {
		panic("iamtest: SetPolicy on unknown role " + roleName)
	}
	r.policies[policyName] = document
}

// Policy returns the document of a role's inline policy as it was sent, and
// whether the policy exists.
func (s *Server) Policy(roleName, policyName string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.roles[strings.ToLower(roleName)]
	if r == nil {
		return "", false
	}
	doc, ok := r.policies[policyName]
	return doc, ok
}

// Policies returns the names of a role's inline policies, sorted.
func (s *Server) Policies(roleName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.roles[strings.ToLower(roleName)]
	if r == nil {
		return nil
	}
	return r.names()
}

// Calls returns how many requests for action the server has received,
// failed ones included.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// Writes returns the successful writes in the order they were applied.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Write(nil), s.writes...)
}

// Requests returns every request the server has received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Fail makes the next times calls of action (or every call, with Always)
// fail with AWS's error code, such as AccessDenied, Throttling,
// ServiceFailure, NoSuchEntity, LimitExceeded or MalformedPolicyDocument,
// with the status and message AWS gives it. Faults queue up per action and
// apply before the request's own checks, after authentication.
func (s *Server) Fail(action, code string, times int) {
	if times == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[action] = append(s.faults[action], &fault{code: code, times: times})
}

// Heal removes every queued fault.
func (s *Server) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = make(map[string][]*fault)
}

// SetNow fixes the server's clock at t; its Date headers then say t. The
// zero time goes back to the real clock.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.IsZero() {
		s.now = time.Now
		return
	}
	s.now = func() time.Time { return t }
}

// Now returns the server's current time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// SetPageSize makes ListRolePolicies return at most n names per page
// whatever MaxItems asks, as IAM may ("IAM might return fewer than the
// MaxItems number of results even when there are more"). 0 restores
// MaxItems alone.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// SetDelay makes every following request wait d before it is answered (or
// until the client gives up).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// PolicySize returns the size IAM counts for a policy document: its
// characters, not counting the whitespace a document may hold (space, tab,
// line feed, carriage return).
func PolicySize(doc string) int {
	n := 0
	for _, r := range doc {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}

func (r *role) names() []string {
	names := make([]string, 0, len(r.policies))
	for n := range r.policies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// awsError is an error answer.
type awsError struct {
	code    string
	message string
}

// errorStatus gives the HTTP status and fault type of AWS error codes. The
// modeled IAM errors come from botocore's iam service-2.json
// (LimitExceeded 409, MalformedPolicyDocument 400, NoSuchEntity 404,
// UnmodifiableEntity 400, ServiceFailure 500 receiver); the common ones from
// the IAM API reference's Common Errors page (AccessDenied 403,
// MissingAuthenticationToken 403, Throttling 400, ServiceUnavailable 503)
// and AWS's own answers quoted in public bug reports (Throttling "Rate
// exceeded" with Type Sender and status 400).
var errorStatus = map[string]struct {
	status int
	typ    string
}{
	"AccessDenied":               {http.StatusForbidden, "Sender"},
	"MissingAuthenticationToken": {http.StatusForbidden, "Sender"},
	"SignatureDoesNotMatch":      {http.StatusForbidden, "Sender"},
	"InvalidClientTokenId":       {http.StatusForbidden, "Sender"},
	"ExpiredToken":               {http.StatusForbidden, "Sender"},
	"Throttling":                 {http.StatusBadRequest, "Sender"},
	"NoSuchEntity":               {http.StatusNotFound, "Sender"},
	"MalformedPolicyDocument":    {http.StatusBadRequest, "Sender"},
	"LimitExceeded":              {http.StatusConflict, "Sender"},
	"UnmodifiableEntity":         {http.StatusBadRequest, "Sender"},
	"ValidationError":            {http.StatusBadRequest, "Sender"},
	"InvalidAction":              {http.StatusBadRequest, "Sender"},
	"MissingParameter":           {http.StatusBadRequest, "Sender"},
	"ServiceFailure":             {http.StatusInternalServerError, "Receiver"},
	"ServiceUnavailable":         {http.StatusServiceUnavailable, "Receiver"},
}

// faultMessage words an injected fault as AWS does where we know AWS's
// wording (AccessDenied and Throttling from AWS answers quoted in public
// bug reports; NoSuchEntity from the API's documented messages).
func faultMessage(code, action, roleName string) string {
	switch code {
	case "AccessDenied":
		return fmt.Sprintf("User: arn:aws:iam::%s:user/share-bucket-bot is not authorized to perform: iam:%s on resource: role %s because no identity-based policy allows the iam:%s action", Account, action, roleName, action)
	case "Throttling":
		return "Rate exceeded"
	case "NoSuchEntity":
		return fmt.Sprintf("The role with name %s cannot be found.", roleName)
	case "LimitExceeded":
		return fmt.Sprintf("Maximum policy size of %d bytes exceeded for role %s", MaxRolePolicySize, roleName)
	case "MalformedPolicyDocument":
		return "Syntax errors in policy."
	case "ServiceFailure":
		return "The request processing has failed because of an unknown error, exception or failure."
	case "ServiceUnavailable":
		return "Service is unavailable."
	}
	return code
}

// credentialScope matches the Credential of a SigV4 Authorization header:
// AKID/YYYYMMDD/region/service/aws4_request.
var credentialScope = regexp.MustCompile(`Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		// AWS also takes GET; the bot's SDK always POSTs, and policy
		// documents belong in a body.
		s.fail(w, awsError{"InvalidAction", "The fake IAM endpoint takes only POST requests."})
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, awsError{"MissingParameter", "The request body is not a form."})
		return
	}
	p := r.PostForm
	action := p.Get("Action")

	// The delay comes after the body is read: only then does the server
	// notice a client that gives up.
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	// AWS authenticates before it looks at the action.
	auth := r.Header.Get("Authorization")
	m := credentialScope.FindStringSubmatch(auth)
	switch {
	case !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || m == nil || !strings.Contains(auth, "Signature="):
		s.count(Request{Action: action, Params: p})
		s.fail(w, awsError{"MissingAuthenticationToken", "The request must contain either a valid (registered) AWS access key ID or X.509 certificate."})
		return
	case m[4] != "iam":
		s.count(Request{Action: action, AccessKeyID: m[1], Region: m[3], Params: p})
		s.fail(w, awsError{"SignatureDoesNotMatch", "Credential should be scoped to correct service: 'iam'. "})
		return
	}
	s.count(Request{Action: action, AccessKeyID: m[1], Region: m[3], Params: p})

	if v := p.Get("Version"); v != APIVersion {
		s.fail(w, awsError{"InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, v)})
		return
	}
	var handle func(url.Values) (any, *awsError)
	switch action {
	case PutRolePolicy:
		handle = s.putRolePolicy
	case GetRolePolicy:
		handle = s.getRolePolicy
	case DeleteRolePolicy:
		handle = s.deleteRolePolicy
	case ListRolePolicies:
		handle = s.listRolePolicies
	default:
		s.fail(w, awsError{"InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, APIVersion)})
		return
	}
	if code := s.takeFault(action); code != "" {
		s.fail(w, awsError{code, faultMessage(code, action, p.Get("RoleName"))})
		return
	}
	result, aerr := handle(p)
	if aerr != nil {
		s.fail(w, *aerr)
		return
	}
	s.answer(w, action, result)
}

func (s *Server) count(req Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[req.Action]++
	s.requests = append(s.requests, req)
}

func (s *Server) takeFault(action string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[action]
	if len(q) == 0 {
		return ""
	}
	f := q[0]
	if f.times != Always {
		f.times--
		if f.times == 0 {
			s.faults[action] = q[1:]
		}
	}
	return f.code
}

// header sets the headers every IAM answer has.
func (s *Server) header(w http.ResponseWriter) string {
	id := requestID()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", id)
	w.Header().Set("Date", s.Now().UTC().Format(http.TimeFormat))
	return id
}

func (s *Server) fail(w http.ResponseWriter, e awsError) {
	st, ok := errorStatus[e.code]
	if !ok {
		st.status, st.typ = http.StatusBadRequest, "Sender"
	}
	id := s.header(w)
	w.WriteHeader(st.status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		Namespace, st.typ, escape(e.code), escape(e.message), id)
}

func (s *Server) answer(w http.ResponseWriter, action string, result any) {
	id := s.header(w)
	var body strings.Builder
	fmt.Fprintf(&body, `<%sResponse xmlns="%s">`, action, Namespace)
	if result != nil {
		b, err := xml.Marshal(result)
		if err != nil {
			s.fail(w, awsError{"ServiceFailure", "iamtest: " + err.Error()})
			return
		}
		body.Write(b)
	}
	fmt.Fprintf(&body, `<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, id, action)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body.String()))
}

// nameParam matches IAM's role and policy name pattern [\w+=,.@-]+.
var nameParam = regexp.MustCompile(`^[\w+=,.@-]+$`)

// lookup finds the role a request names, or the error AWS gives.
func (s *Server) lookup(p url.Values) (*role, *awsError) {
	name := p.Get("RoleName")
	if name == "" {
		return nil, &awsError{"MissingParameter", "The request must contain the parameter RoleName."}
	}
	if len(name) > 64 || !nameParam.MatchString(name) {
		return nil, &awsError{"ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)}
	}
	r := s.roles[strings.ToLower(name)]
	if r == nil {
		return nil, &awsError{"NoSuchEntity", fmt.Sprintf("The role with name %s cannot be found.", name)}
	}
	return r, nil
}

func policyName(p url.Values) (string, *awsError) {
	name := p.Get("PolicyName")
	if name == "" {
		return "", &awsError{"MissingParameter", "The request must contain the parameter PolicyName."}
	}
	if len(name) > 128 || !nameParam.MatchString(name) {
		return "", &awsError{"ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)}
	}
	return name, nil
}

func (s *Server) putRolePolicy(p url.Values) (any, *awsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, aerr := s.lookup(p)
	if aerr != nil {
		return nil, aerr
	}
	name, aerr := policyName(p)
	if aerr != nil {
		return nil, aerr
	}
	if !p.Has("PolicyDocument") {
		return nil, &awsError{"MissingParameter", "The request must contain the parameter PolicyDocument."}
	}
	doc := p.Get("PolicyDocument")
	if msg := checkPolicy(doc); msg != "" {
		return nil, &awsError{"MalformedPolicyDocument", msg}
	}
	total := PolicySize(doc)
	for n, d := range r.policies {
		if n != name {
			total += PolicySize(d)
		}
	}
	if total > MaxRolePolicySize {
		return nil, &awsError{"LimitExceeded", fmt.Sprintf("Maximum policy size of %d bytes exceeded for role %s", MaxRolePolicySize, r.name)}
	}
	r.policies[name] = doc
	s.writes = append(s.writes, Write{Action: PutRolePolicy, Role: r.name, Policy: name, Document: doc, Time: s.now()})
	return nil, nil
}

type getRolePolicyResult struct {
	XMLName        xml.Name `xml:"GetRolePolicyResult"`
	RoleName       string   `xml:"RoleName"`
	PolicyName     string   `xml:"PolicyName"`
	PolicyDocument string   `xml:"PolicyDocument"`
}

func (s *Server) getRolePolicy(p url.Values) (any, *awsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, aerr := s.lookup(p)
	if aerr != nil {
		return nil, aerr
	}
	name, aerr := policyName(p)
	if aerr != nil {
		return nil, aerr
	}
	doc, ok := r.policies[name]
	if !ok {
		return nil, &awsError{"NoSuchEntity", fmt.Sprintf("The role policy with name %s cannot be found.", name)}
	}
	return getRolePolicyResult{RoleName: r.name, PolicyName: name, PolicyDocument: EncodeDocument(doc)}, nil
}

func (s *Server) deleteRolePolicy(p url.Values) (any, *awsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, aerr := s.lookup(p)
	if aerr != nil {
		return nil, aerr
	}
	name, aerr := policyName(p)
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := r.policies[name]; !ok {
		return nil, &awsError{"NoSuchEntity", fmt.Sprintf("The role policy with name %s cannot be found.", name)}
	}
	delete(r.policies, name)
	s.writes = append(s.writes, Write{Action: DeleteRolePolicy, Role: r.name, Policy: name, Time: s.now()})
	return nil, nil
}

type listRolePoliciesResult struct {
	XMLName     xml.Name `xml:"ListRolePoliciesResult"`
	PolicyNames struct {
		Member []string `xml:"member"`
	} `xml:"PolicyNames"`
	IsTruncated bool   `xml:"IsTruncated"`
	Marker      string `xml:"Marker,omitempty"`
}

func (s *Server) listRolePolicies(p url.Values) (any, *awsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, aerr := s.lookup(p)
	if aerr != nil {
		return nil, aerr
	}
	max := 100
	if v := p.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, &awsError{"ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v)}
		}
		max = n
	}
	if s.pageSize > 0 && s.pageSize < max {
		max = s.pageSize
	}
	names := r.names()
	start := 0
	if m := p.Get("Marker"); m != "" {
		after, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil {
			return nil, &awsError{"ValidationError", "Invalid Marker."}
		}
		start = sort.SearchStrings(names, string(after))
		if start < len(names) && names[start] == string(after) {
			start++
		}
	}
	end := min(start+max, len(names))
	var res listRolePoliciesResult
	res.PolicyNames.Member = names[start:end]
	if end < len(names) {
		res.IsTruncated = true
		res.Marker = base64.RawURLEncoding.EncodeToString([]byte(names[end-1]))
	}
	return res, nil
}

// EncodeDocument URL-encodes a policy document as IAM returns it from
// GetRolePolicy: RFC 3986 percent-encoding of every byte outside the
// unreserved set A-Z a-z 0-9 - . _ ~.
func EncodeDocument(doc string) string {
	var b strings.Builder
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
