package approval

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DeliveryError is returned by a Notifier when a message to the requester
// could not be delivered. Code is the chat platform's error code (for
// example user_disabled or invalid_blocks) or a short code of our own;
// Reason is plain words for the approvers; neither holds a secret.
// Temporary says whether trying again later might help: a Notifier says
// false only when no retry can change the answer, since the notice is
// then given up.
type DeliveryError struct {
	Code      string
	Reason    string
	Temporary bool
	Err       error // the underlying error, for logs; never shown to users
}

func (e *DeliveryError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("deliver: %s: %s: %v", e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("deliver: %s: %s", e.Code, e.Reason)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// why is how the failure is recorded: the code, then the words.
func (e *DeliveryError) why() string {
	if e.Reason == "" {
		return e.Code
	}
	return e.Code + ": " + e.Reason
}

// settleNotice turns what the Notifier answered into what Deliver
// answers. A permanent *DeliveryError settles the event (retrying cannot
// help) and is recorded; any other error means retry.
func (s *Service) settleNotice(ctx context.Context, ev Event, err error) error {
	de, ok := errors.AsType[*DeliveryError](err)
	if !ok || de.Temporary {
		return err
	}
	return s.undelivered(ctx, ev, de.why())
}

// GiveUp settles an event that will not be delivered: its attempts ran
// out, the last failing with err. An approval whose first link never
// reached the requester records why on the grant, so the approval message
// says so and the requester can still get a link (see Link); any other
// event is recorded as undelivered in the audit log. It may be called
// more than once for the same event.
func (s *Service) GiveUp(ctx context.Context, ev Event, err error) error {
	code, reason := "gave_up", "delivering it kept failing"
	if de, ok := errors.AsType[*DeliveryError](err); ok {
		code, reason = de.Code, de.Reason
	}
	why := fmt.Sprintf("%s: %s (gave up after %d attempts)", code, reason, ev.Attempts)
	return s.undelivered(ctx, ev, why)
}

// undelivered records that what ev was to tell the requester did not
// reach them, and why.
func (s *Service) undelivered(ctx context.Context, ev Event, why string) error {
	now := s.now()
	if ev.Kind == EventApproved {
		var done bool // recorded now or before
		_, _, err := s.Store.Update(ctx, ev.RequestID, func(r *Request) ([]Event, error) {
			done = r.Undelivered != ""
			evs := r.linkUndelivered(why, now)
			done = done || len(evs) > 0
			return evs, nil
		})
		if err != nil {
			return fmt.Errorf("record undelivered link of %s: %w", ev.RequestID, err)
		}
		if done {
			s.kick()
			return nil
		}
	}
	err := s.Store.Append(ctx, []Event{{RequestID: ev.RequestID, At: now, Kind: EventNoticeUndelivered,
		Detail: map[string]string{"event": string(ev.Kind), "reason": why}}})
	if err != nil {
		return fmt.Errorf("record undelivered %s notice of %s: %w", ev.Kind, ev.RequestID, err)
	}
	return nil
}

// linkUndelivered records that the DM with an active grant's first link
// could not be delivered. A grant whose DM went out, that ended meanwhile,
// or that recorded it already, is left as it is.
func (r *Request) linkUndelivered(why string, now time.Time) []Event {
	if r.State != StateApproved || r.Undelivered != "" || len(r.MessagesOf(MessageGrant)) > 0 {
		return nil
	}
	r.Undelivered = why
	return []Event{newEvent(r, EventLinkUndelivered, "", now, map[string]string{"reason": why})}
}
