package slackapp_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/share-bucket/share-bucket/internal/fakeslack"
	"github.com/share-bucket/share-bucket/internal/slackapp"
)

func TestApprovers(t *testing.T) {
	fs := fakeslack.New(t, fakeslack.WithUsers("UAPP1", "UGRP1", "UGRP2", "UGRP3"))
	team := fs.CreateUserGroup("security", "UGRP1", "UGRP2")
	api := slack.New(fs.BotToken(), slack.OptionAPIURL(fs.APIURL()))
	a := &slackapp.Approvers{Users: []string{"UAPP1"}, Groups: []string{team}, API: api, MinRefresh: time.Millisecond}
	ctx := context.Background()
	if got := a.Approvers(); !slices.Equal(got, []string{"UAPP1"}) {
		t.Errorf("before Load: %v; want only the users named", got)
	}
	if err := a.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.Approvers(); !slices.Equal(got, []string{"UAPP1", "UGRP1", "UGRP2"}) {
		t.Errorf("after Load: %v", got)
	}
	// Someone joins, someone leaves: a decision by anyone not named
	// directly reads the group again.
	if err := fs.SetUserGroupMembers(team, "UGRP2", "UGRP3"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	a.Confirm(ctx, "UAPP1")
	if got := a.Approvers(); !slices.Contains(got, "UGRP1") {
		t.Errorf("a named approver's click read the groups again: %v", got)
	}
	a.Confirm(ctx, "UGRP1")
	if got := a.Approvers(); !slices.Equal(got, []string{"UAPP1", "UGRP2", "UGRP3"}) {
		t.Errorf("after a click by a former member: %v; want the group as it is now", got)
	}

	// A group that cannot be read is an error at Load, naming it, and
	// keeps its last members.
	bad := &slackapp.Approvers{Groups: []string{team, "S0NOSUCH"}, API: api}
	err := bad.Load(ctx)
	if err == nil || !strings.Contains(err.Error(), "user group S0NOSUCH: no_such_subteam") {
		t.Errorf("Load with an unknown group = %v", err)
	}
	if got := bad.Approvers(); !slices.Equal(got, []string{"UGRP2", "UGRP3"}) {
		t.Errorf("approvers with one group unreadable = %v", got)
	}
	fs.SetScopes("commands", "chat:write")
	if err := bad.Load(ctx); err == nil || !strings.Contains(err.Error(), "missing_scope") {
		t.Errorf("Load without usergroups:read = %v", err)
	}
}
