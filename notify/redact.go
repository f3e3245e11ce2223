package notify

import (
	"net/url"
	"regexp"
	"strings"
)

// Webhook URLs are credentials: whoever holds one can post to the channel.
// Slack puts the secret in the path (/services/T../B../<secret>), DingTalk in
// the query (access_token, sign), so both are redacted, while scheme and host
// stay to tell the reader which service failed.

const redacted = "***"

// plainSegment matches path segments that read as words ("services",
// "robot", "send"). Anything else (digits, upper case, long strings) may be
// an ID or a token, so it and everything after it is hidden.
var plainSegment = regexp.MustCompile(`^[a-z][a-z_-]{0,15}$`)

// plainKey matches query keys worth keeping as a hint ("access_token").
var plainKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,31}$`)

// RedactURL keeps a URL's scheme and host, the leading path segments that are
// plain words and the query keys, and replaces the rest:
//
//	https://hooks.slack.com/services/T0/B0/XyZ      -> https://hooks.slack.com/services/***
//	https://oapi.dingtalk.com/robot/send?access_token=abc&sign=x
//	                                                -> https://oapi.dingtalk.com/robot/send?access_token=***&sign=***
//
// User info and fragment are dropped. Text that does not parse as an absolute
// URL becomes "***".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return redacted
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://" + u.Host)
	b.WriteString(redactPath(u.EscapedPath()))
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteString("?" + redactQuery(u.RawQuery))
	}
	return b.String()
}

func redactPath(p string) string {
	if p == "" || p == "/" {
		return p
	}
	var b strings.Builder
	for _, s := range strings.Split(strings.Trim(p, "/"), "/") {
		if !plainSegment.MatchString(s) {
			b.WriteString("/" + redacted)
			break
		}
		b.WriteString("/" + s)
	}
	return b.String()
}

func redactQuery(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		key, _, hasValue := strings.Cut(p, "=")
		switch {
		case !hasValue || !plainKey.MatchString(key):
			parts[i] = redacted // a bare value ("?abcdef") or an odd key
		default:
			parts[i] = key + "=" + redacted
		}
	}
	return strings.Join(parts, "&")
}

// urlInText finds absolute URLs in free text, such as the quoted URL in a
// *url.Error ("Post \"https://...\": dial tcp ...").
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// slackTokenInText finds Slack API tokens in free text: bot (xoxb-), user
// (xoxp-) and Slack's other xoxa-, xoxo-, xoxs- and xoxr- kinds. The prefix
// says which kind of token it was and stays; the rest is the secret.
var slackTokenInText = regexp.MustCompile(`xox[abposr]-[0-9A-Za-z-]+`)

// minSecret is the shortest secret RedactText replaces: shorter strings
// would mangle ordinary words and no real token is that short.
const minSecret = 4

// RedactText replaces every URL in s as RedactURL does, every occurrence of
// the given secrets (also in their URL-escaped forms) with "***", and then
// whatever else is shaped like a Slack token ("xoxb-123-abc" becomes
// "xoxb-***").
func RedactText(s string, secrets ...string) string {
	s = urlInText.ReplaceAllStringFunc(s, func(u string) string {
		// Punctuation that ends a sentence is not part of the URL.
		trimmed := strings.TrimRight(u, ".,;:)]")
		return RedactURL(trimmed) + u[len(trimmed):]
	})
	for _, sec := range secrets {
		if len(sec) < minSecret {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, redacted)
		}
	}
	return slackTokenInText.ReplaceAllStringFunc(s, func(t string) string { return t[:len("xoxb-")] + redacted })
}

// RedactError returns err with URLs, Slack tokens and the given secrets
// removed from its text (see RedactText), or err itself when there is nothing to remove.
// errors.Is and errors.As still reach the original chain; note that the
// errors found that way keep their unredacted text.
func RedactError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := RedactText(msg, secrets...)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
