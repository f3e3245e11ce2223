package credentials

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestNeverPrinted(t *testing.T) {
	const id, secret, token = "LTAI5tPrintTestKeyID", "print-test-secret-abcdef", "CAIS-print-test-sts-token-xyz"
	c := Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token}
	wrapped := struct{ C Credentials }{c}

	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("creds", "c", c)
	jc, _ := json.Marshal(c)
	jw, _ := json.Marshal(wrapped)

	outputs := map[string]string{
		"String":  c.String(),
		"%v":      fmt.Sprintf("%v", c),
		"%+v":     fmt.Sprintf("%+v", c),
		"%#v":     fmt.Sprintf("%#v", c),
		"%s":      fmt.Sprintf("%s", c),
		"%q":      fmt.Sprintf("%q", c),
		"%x":      fmt.Sprintf("%x", c),
		"wrapped": fmt.Sprintf("%+v", wrapped),
		"pointer": fmt.Sprintf("%v", &c),
		"slog":    logBuf.String(),
		"json":    string(jc),
		"json w":  string(jw),
	}
	for name, out := range outputs {
		for _, s := range []string{id, secret, token} {
			if strings.Contains(out, s) {
				t.Errorf("%s output %q leaks %q", name, out, s)
			}
		}
	}
	if !strings.Contains(c.String(), "LTAI****") {
		t.Errorf("String() = %q, want the key ID's prefix for diagnosis", c.String())
	}
	if s := (Credentials{}).String(); !strings.Contains(s, "<empty>") {
		t.Errorf("empty credentials print %q", s)
	}
}
