package awsiam

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cedargate/cedargate/bundle/inventory"
)

// ReportColumns are the credential report's columns, named and ordered
// as the IAM User Guide documents them ("Getting credential reports for
// your AWS account"). A report must have all of them, in any order;
// columns AWS may add later are ignored.
var ReportColumns = []string{
	"user", "arn", "user_creation_time",
	"password_enabled", "password_last_used", "password_last_changed", "password_next_rotation",
	"mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date", "access_key_2_last_used_region", "access_key_2_last_used_service",
	"cert_1_active", "cert_1_last_rotated",
	"cert_2_active", "cert_2_last_rotated",
}

// rootUser is the user column of the account's root row, which is not an
// IAM user and is skipped.
const rootUser = "<root_account>"

// ReadCredentialReport reads a credential report, refusing a file over
// MaxFileSize, and returns each user's credentials by user ARN.
func ReadCredentialReport(file string) (map[string][]inventory.Credential, error) {
	data, err := readFile(file, MaxFileSize)
	if err != nil {
		return nil, err
	}
	return ParseCredentialReport(data, file)
}

// ParseCredentialReport parses a credential report: the CSV, or the JSON
// that aws iam get-credential-report prints ({"Content": base64 CSV,
// "ReportFormat": "text/csv", "GeneratedTime": …}). file names it in
// errors.
func ParseCredentialReport(data []byte, file string) (map[string][]inventory.Credential, error) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		var doc struct {
			Content      *string `json:"Content"`
			ReportFormat string  `json:"ReportFormat"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %s", file, inventory.JSONError(data, err))
		}
		if doc.Content == nil {
			return nil, fmt.Errorf("%s: no Content (want the output of aws iam get-credential-report)", file)
		}
		if doc.ReportFormat != "" && doc.ReportFormat != "text/csv" {
			return nil, fmt.Errorf("%s: ReportFormat is %q; only text/csv is read", file, doc.ReportFormat)
		}
		dec, err := base64.StdEncoding.DecodeString(*doc.Content)
		if err != nil {
			return nil, fmt.Errorf("%s: Content is not base64: %v", file, err)
		}
		data = dec
		file += ": Content"
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty; want a credential report with a header line", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	var missing []string
	for _, c := range ReportColumns {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: line 1: the header lacks column(s) %v; a credential report has %v", file, missing, ReportColumns)
	}
	out := map[string][]inventory.Credential{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// csv.ParseError names the line itself.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s: line %d: %v", file, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		line, _ := r.FieldPos(0)
		row := func(c string) string { return rec[col[c]] }
		if row("user") == rootUser {
			continue
		}
		creds, err := credentials(row)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: user %s: %v", file, line, row("user"), err)
		}
		arn := row("arn")
		if arn == "" {
			return nil, fmt.Errorf("%s: line %d: user %s has no arn", file, line, row("user"))
		}
		if _, dup := out[arn]; dup {
			return nil, fmt.Errorf("%s: line %d: arn %s appears twice", file, line, arn)
		}
		out[arn] = creds
	}
	return out, nil
}

// credentials maps one report row to the user's credentials.
func credentials(row func(string) string) ([]inventory.Credential, error) {
	var creds []inventory.Credential
	pw, err := flag(row, "password_enabled")
	if err != nil {
		return nil, err
	}
	if pw {
		c := inventory.Credential{ID: "password", Type: "password", Active: true}
		if c.Created, _, err = when(row, "password_last_changed"); err != nil {
			return nil, err
		}
		if c.LastUsed, c.UsedKnown, err = when(row, "password_last_used"); err != nil {
			return nil, err
		}
		creds = append(creds, c)
	}
	for _, n := range []string{"1", "2"} {
		p := "access_key_" + n + "_"
		rotated, exists, err := when(row, p+"last_rotated")
		if err != nil {
			return nil, err
		}
		if !exists {
			continue // N/A: no such key
		}
		c := inventory.Credential{ID: "access-key-" + n, Type: "access-key", Created: rotated}
		if c.Active, err = flag(row, p+"active"); err != nil {
			return nil, err
		}
		if c.LastUsed, c.UsedKnown, err = when(row, p+"last_used_date"); err != nil {
			return nil, err
		}
		if v := row(p + "last_used_date"); v == "N/A" {
			c.UsedKnown = true // the key exists and was never used
		}
		creds = append(creds, c)
	}
	for _, n := range []string{"1", "2"} {
		p := "cert_" + n + "_"
		rotated, exists, err := when(row, p+"last_rotated")
		if err != nil {
			return nil, err
		}
		if !exists {
			continue
		}
		c := inventory.Credential{ID: "cert-" + n, Type: "certificate", Created: rotated}
		if c.Active, err = flag(row, p+"active"); err != nil {
			return nil, err
		}
		creds = append(creds, c)
	}
	return creds, nil
}

// flag reads a true/false column; not_supported (the root row's
// password_enabled) and N/A read as false.
func flag(row func(string) string, c string) (bool, error) {
	switch v := row(c); v {
	case "true":
		return true, nil
	case "false", "not_supported", "N/A":
		return false, nil
	default:
		return false, fmt.Errorf("%s is %q; want true or false", c, v)
	}
}

// when reads a time column. N/A (no such credential, or never used),
// no_information (used before IAM tracked it) and not_supported read as
// a zero time and false.
func when(row func(string) string, c string) (time.Time, bool, error) {
	switch v := row(c); v {
	case "N/A", "no_information", "not_supported", "":
		return time.Time{}, false, nil
	default:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%s is %q; want an ISO 8601 time, N/A or no_information", c, v)
		}
		return t, true, nil
	}
}
