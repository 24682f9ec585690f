package fakeslack

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownUserGroup means a user group method of the Server named a
// group that was never created.
var ErrUnknownUserGroup = errors.New("fakeslack: no such user group")

// defaultScopes are the bot scopes the fake grants unless WithScopes says
// otherwise: share-bucket's manifest's, and usergroups:read.
var defaultScopes = []string{"commands", "chat:write", "im:write", "users:read", "usergroups:read"}

// WithScopes sets the bot token's scopes (default commands, chat:write,
// im:write, users:read and usergroups:read). Only usergroups.users.list
// checks them: without usergroups:read it answers missing_scope.
func WithScopes(scopes ...string) Option {
	return func(c *config) { c.scopes = append([]string(nil), scopes...) }
}

// SetScopes replaces the bot token's scopes while the server runs, as a
// reinstall with fewer scopes would; see WithScopes.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = append([]string(nil), scopes...)
}

// UserGroup is a user group (Slack's "subteam").
type UserGroup struct {
	ID       string // "S…"
	Handle   string
	Users    []string
	Disabled bool
}

// CreateUserGroup creates an enabled user group with handle and members
// users and returns its ID, "S" and digits.
func (s *Server) CreateUserGroup(handle string, users ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("S%08d", s.seq)
	s.groups[id] = &UserGroup{ID: id, Handle: handle, Users: slices.Clone(users)}
	s.notify()
	return id
}

// SetUserGroupMembers replaces the members of group id. It returns
// ErrUnknownUserGroup if there is no such group.
func (s *Server) SetUserGroupMembers(id string, users ...string) error {
	return s.changeGroup(id, func(g *UserGroup) { g.Users = slices.Clone(users) })
}

// SetUserGroupDisabled disables or re-enables group id, as
// usergroups.disable and usergroups.enable do. It returns
// ErrUnknownUserGroup if there is no such group.
func (s *Server) SetUserGroupDisabled(id string, disabled bool) error {
	return s.changeGroup(id, func(g *UserGroup) { g.Disabled = disabled })
}

func (s *Server) changeGroup(id string, change func(*UserGroup)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil {
		return fmt.Errorf("%w: %s", ErrUnknownUserGroup, id)
	}
	change(g)
	s.notify()
	return nil
}

// UserGroup returns group id, and false if there is none.
func (s *Server) UserGroup(id string) (UserGroup, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil {
		return UserGroup{}, false
	}
	out := *g
	out.Users = slices.Clone(g.Users)
	return out, true
}

// usergroupsUsersList serves usergroups.users.list: {"users":[…]}, or
// no_such_subteam for an unknown group ("No usergroup found with the given
// Id", the method's error table), and missing_scope with needed and
// provided when the token lacks usergroups:read. A disabled group answers
// no_such_subteam unless include_disabled is set: the argument "allow[s]
// results that involve disabled User Groups", and Slack documents no other
// code for them. team_id matters only to org-wide tokens and is ignored.
func (s *Server) usergroupsUsersList(p params) (reply, error) {
	const needed = "usergroups:read"
	if !slices.Contains(s.scopes, needed) {
		return nil, &apiError{code: "missing_scope", extra: reply{"needed": needed, "provided": strings.Join(s.scopes, ",")}}
	}
	g := s.groups[p["usergroup"]]
	if g == nil || (g.Disabled && !isTrue(p["include_disabled"])) {
		return nil, errCode("no_such_subteam")
	}
	return reply{"users": append([]string{}, g.Users...)}, nil
}
