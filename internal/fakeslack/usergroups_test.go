package fakeslack_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
)

func TestUserGroupMembers(t *testing.T) {
	srv := fakeslack.New(t)
	api := newAPI(srv)
	id := srv.CreateUserGroup("s3-approvers", "U_APP1", "U_APP2")
	if !strings.HasPrefix(id, "S") {
		t.Errorf("group ID %q; want S…", id)
	}
	members, err := api.GetUserGroupMembers(id, slack.GetUserGroupMembersOptionTeamID(srv.TeamID()))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"U_APP1", "U_APP2"}; !slices.Equal(members, want) {
		t.Errorf("members = %v; want %v", members, want)
	}

	if err := srv.SetUserGroupMembers(id, "U_OTHER"); err != nil {
		t.Fatal(err)
	}
	if members, err := api.GetUserGroupMembers(id); err != nil || !slices.Equal(members, []string{"U_OTHER"}) {
		t.Errorf("members after change = %v, %v; want [U_OTHER]", members, err)
	}
	if err := srv.SetUserGroupMembers(id); err != nil {
		t.Fatal(err)
	}
	if members, err := api.GetUserGroupMembers(id); err != nil || members == nil || len(members) != 0 {
		t.Errorf("members of an empty group = %#v, %v; want []", members, err)
	}

	if err := srv.SetUserGroupDisabled(id, true); err != nil {
		t.Fatal(err)
	}
	if _, err := api.GetUserGroupMembers(id); slackErr(err) != "no_such_subteam" {
		t.Errorf("disabled group: err = %v; want no_such_subteam", err)
	}
	if _, err := api.GetUserGroupMembers(id, slack.GetUserGroupMembersOptionIncludeDisabled(true)); err != nil {
		t.Errorf("disabled group with include_disabled: %v", err)
	}
	if g, ok := srv.UserGroup(id); !ok || !g.Disabled || g.Handle != "s3-approvers" {
		t.Errorf("UserGroup = %+v, %v; want the disabled group", g, ok)
	}
	if _, err := api.GetUserGroupMembers("S_NOPE"); slackErr(err) != "no_such_subteam" {
		t.Errorf("unknown group: err = %v; want no_such_subteam", err)
	}
	if err := srv.SetUserGroupDisabled("S_NOPE", true); !errors.Is(err, fakeslack.ErrUnknownUserGroup) {
		t.Errorf("SetUserGroupDisabled(S_NOPE) = %v; want ErrUnknownUserGroup", err)
	}

	bad := slack.New("xoxb-wrong", slack.OptionAPIURL(srv.APIURL()))
	if _, err := bad.GetUserGroupMembers(id); slackErr(err) != "invalid_auth" {
		t.Errorf("wrong token: err = %v; want invalid_auth", err)
	}
	if _, err := slack.New("", slack.OptionAPIURL(srv.APIURL())).GetUserGroupMembers(id); slackErr(err) != "not_authed" {
		t.Errorf("no token: err = %v; want not_authed", err)
	}
}

func TestUserGroupsMissingScope(t *testing.T) {
	srv := fakeslack.New(t, fakeslack.WithScopes("commands", "chat:write"))
	api := newAPI(srv)
	id := srv.CreateUserGroup("s3-approvers", "U_APP1")
	_, err := api.GetUserGroupMembers(id)
	var e slack.SlackErrorResponse
	if !errors.As(err, &e) || e.Err != "missing_scope" || e.Needed != "usergroups:read" || e.Provided != "commands,chat:write" {
		t.Errorf("err = %#v; want missing_scope needing usergroups:read, providing commands,chat:write", err)
	}
	srv.SetScopes("commands", "chat:write", "usergroups:read")
	if _, err := api.GetUserGroupMembers(id); err != nil {
		t.Errorf("after granting the scope: %v", err)
	}
}
