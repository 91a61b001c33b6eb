package repo

import (
	"regexp"
	"strings"
)

// The forms of the fields that name live objects (kubernetes, aws_arn).
// They are checked when the code is read, so that a typo is an error at
// its line rather than a drift finding that never matches.

// dnsLabel is a Kubernetes namespace; dnsSubdomain a ServiceAccount name.
var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	// awsARN is an IAM role or user ARN in any partition (aws, aws-cn,
	// aws-us-gov), with an optional path.
	awsARN = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/([!-~]+/)*[A-Za-z0-9+=,.@_-]{1,128}$`)
)

// validKubernetesName reports whether s is "namespace/name".
func validKubernetesName(s string) bool {
	ns, name, ok := strings.Cut(s, "/")
	return ok && dnsLabel.MatchString(ns) && dnsSubdomain.MatchString(name)
}

// validAWSARN reports whether s is an IAM role or user ARN.
func validAWSARN(s string) bool { return awsARN.MatchString(s) }
