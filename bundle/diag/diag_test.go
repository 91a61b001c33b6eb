package diag

import (
	"errors"
	"testing"
)

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		name string
		d    Diagnostic
		want string
	}{
		{"full", Diagnostic{Pos: Position{"identities/payments.yaml", 14, 3}, Rule: "nhi-owner-unknown", Subject: `ServiceAccount "ledger-bot"`, Message: `owner "payments-tema" is not a Team or User`},
			`identities/payments.yaml:14:3: ServiceAccount "ledger-bot": owner "payments-tema" is not a Team or User (nhi-owner-unknown)`},
		{"warning without column", Diagnostic{Pos: Position{"a.yaml", 2, 0}, Severity: Warning, Rule: "review-overdue", Message: "m"}, "a.yaml:2: warning: m (review-overdue)"},
		{"file only", Diagnostic{Pos: Position{File: "cedargate.yaml"}, Message: "m"}, "cedargate.yaml: m"},
		{"no position", Diagnostic{Message: "m"}, "m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestListSortsDeduplicatesAndFailsOnlyOnErrors(t *testing.T) {
	var l List
	l.Add(Diagnostic{Pos: Position{"b.yaml", 1, 1}, Severity: Warning, Message: "w"})
	if l.Err() != nil {
		t.Fatal("a warning alone must not be an error")
	}
	l.Errorf(Position{"a.yaml", 9, 1}, "second")
	l.Errorf(Position{"a.yaml", 2, 5}, "first")
	l.Errorf(Position{"a.yaml", 2, 5}, "first")
	err := l.Err()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("Err() = %v, want *Failure", err)
	}
	want := "a.yaml:2:5: first\na.yaml:9:1: second\nb.yaml:1:1: warning: w"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
	if l.Errors() != 3 {
		t.Errorf("Errors() = %d, want 3 (duplicates count until sorted)", l.Errors())
	}
}
