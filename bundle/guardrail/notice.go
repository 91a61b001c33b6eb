package guardrail

import (
	"fmt"
	"time"

	"github.com/cedargate/cedargate/bundle/repo"
)

// expiringSoon reports service accounts, grants and Exceptions that
// expire after now but within guardrails.expiry_warning: the ones that
// are already expired are other rules' (nhi-expired, entitlement-expired,
// exception-unbounded).
func (c *checker) expiringSoon() {
	window := c.g.ExpiryWarning
	soon := func(t *time.Time) bool { return t != nil && c.now.Before(*t) && t.Sub(c.now) <= window }
	report := func(m *repo.Meta, key, label string, expires time.Time, what string) {
		c.report(ExpiringSoon, m.FieldPos("expires"), key, label, "expires %s, %s (guardrails.expiry_warning: %s): %s",
			day(expires), timeLeft(expires.Sub(c.now)), repo.FormatDuration(window), what)
	}
	for _, s := range c.v.ServiceAccounts {
		if soon(s.Expires) {
			report(&s.Meta, s.Key(), s.Label(), *s.Expires, "extend expires if the workload is still needed, or remove the account")
		}
	}
	for _, e := range c.v.Entitlements {
		if soon(e.Expires) {
			key, label := c.grantName(&e.Meta, e.Subject, e.Profile)
			report(&e.Meta, key, label, *e.Expires, "renew it with a new approval if it is still needed, or let it lapse")
		}
	}
	for _, e := range c.v.Exceptions {
		switch {
		case !soon(e.Expires):
		case e.IsGrant():
			key, label := c.grantName(&e.Meta, e.Subject, e.Profile)
			report(&e.Meta, key, label, *e.Expires, "end the break-glass work before then, or renew it with a new approval")
		default:
			report(&e.Meta, e.Key(), e.Label(), *e.Expires, "fix what it waives before then, or renew it with a new approval")
		}
	}
}

// timeLeft says how long until an expiry, in whole days: "in 3 days".
func timeLeft(d time.Duration) string {
	switch days := int(d / (24 * time.Hour)); days {
	case 0:
		return "in less than a day"
	case 1:
		return "in 1 day"
	default:
		return fmt.Sprintf("in %d days", days)
	}
}

// justification reports grants and Exceptions without a field that
// guardrails.require lists. An Exception's reason is not asked again:
// exception-unbounded requires it of every Exception already.
func (c *checker) justification() {
	if len(c.g.Require) == 0 {
		return
	}
	type object struct {
		m              *repo.Meta
		key, label     string
		ticket, reason string
		reasonChecked  bool
	}
	var all []object
	for _, e := range c.v.Entitlements {
		key, label := c.grantName(&e.Meta, e.Subject, e.Profile)
		all = append(all, object{&e.Meta, key, label, e.Ticket, e.Reason, false})
	}
	for _, e := range c.v.Exceptions {
		key, label := e.Key(), e.Label()
		if e.IsGrant() {
			key, label = c.grantName(&e.Meta, e.Subject, e.Profile)
		}
		all = append(all, object{&e.Meta, key, label, e.Ticket, e.Reason, true})
	}
	for _, o := range all {
		for _, t := range c.g.Require {
			missing := false
			switch t.Text {
			case repo.RequireTicket:
				missing = o.ticket == ""
			case repo.RequireReason:
				missing = o.reason == "" && !o.reasonChecked
			}
			if missing {
				c.report(JustificationMissing, o.m.Pos, o.key, o.label, "no %s: cedargate.yaml requires one on every grant and Exception (guardrails.require, %s)", t.Text, t.Pos)
			}
		}
	}
}
