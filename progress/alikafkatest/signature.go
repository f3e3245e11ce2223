package alikafkatest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// StringToSign builds the text an RPC (signature version 1.0) request is
// signed over: every parameter except Signature, empty values included,
// sorted by key, percent-encoded per RFC 3986 and joined as k=v&k=v; then
// METHOD&%2F&enc(canonical). Only the first value of a key counts, because
// the SDK keeps parameters in a map and never sends a key twice.
func StringToSign(method string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(percentEncode(k))
		b.WriteByte('=')
		b.WriteString(percentEncode(params.Get(k)))
	}
	return strings.ToUpper(method) + "&" + percentEncode("/") + "&" + percentEncode(b.String())
}

// Sign returns base64(HMAC-SHA1(secret+"&", StringToSign(method, params))),
// the value the service expects in the Signature parameter.
func Sign(method string, params url.Values, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(StringToSign(method, params)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// rfc3986 fixes the three places where url.QueryEscape (form encoding)
// differs from the RFC 3986 encoding the service signs over.
var rfc3986 = strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~")

func percentEncode(s string) string {
	return rfc3986.Replace(url.QueryEscape(s))
}
