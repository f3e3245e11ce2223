package function

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
)

func TestParseEvent(t *testing.T) {
	code := codeDir(t)
	other := filepath.Join(code, "other.yaml")
	tests := []struct {
		name  string
		event string
		want  Overrides
		err   string
	}{
		{"empty body", "", Overrides{}, ""},
		{"null", "null", Overrides{}, ""},
		{"FC timer, empty payload", `{"triggerTime":"2026-11-21T10:00:00Z","triggerName":"every5m","payload":""}`, Overrides{}, ""},
		{"FC timer, JSON payload string", `{"triggerTime":"2026-11-21T10:00:00Z","triggerName":"t","payload":"{\"dry_run\": true, \"rules\": \"other.yaml\"}"}`, Overrides{Rules: other, DryRun: true}, ""},
		{"FC timer, object payload", `{"triggerName":"t","payload":{"dry_run":true}}`, Overrides{DryRun: true}, ""},
		{"EventBridge scheduled event", `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","time":"2026-11-21T10:00:00Z","detail":{}}`, Overrides{}, ""},
		{"Scheduler input", `{"rules":"` + other + `"}`, Overrides{Rules: other}, ""},
		{"unknown override key", `{"dryrun":true}`, Overrides{}, `unknown field "dryrun"`},
		{"unknown key in payload", `{"triggerName":"t","payload":"{\"rulez\":\"x\"}"}`, Overrides{}, `trigger payload: must be a JSON object`},
		{"payload that is not JSON", `{"triggerName":"t","payload":"every five minutes"}`, Overrides{}, "trigger payload"},
		{"not an object", `[1,2]`, Overrides{}, "event: not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tc.event))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseEvent = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestFetchBudget(t *testing.T) {
	start := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ left, reserve time.Duration }{
		{120 * time.Second, 15 * time.Second}, // capped
		{30 * time.Second, 6 * time.Second},   // a fifth
		{5 * time.Second, 2 * time.Second},    // at least 2 s
	} {
		if got := start.Add(tc.left).Sub(fetchBudget(start.Add(tc.left), start)); got != tc.reserve {
			t.Errorf("%v left: reserve %v, want %v", tc.left, got, tc.reserve)
		}
	}
}

func TestBlind(t *testing.T) {
	if Blind(&Report{Groups: 0, Errors: []string{"GetConsumerList i: denied"}}) == nil {
		t.Error("a run that read nothing and failed is blind")
	}
	for _, rep := range []*Report{
		{Groups: 1, Errors: []string{"x"}},
		{Groups: 0},
		{Groups: 0, Missing: []lifecycle.GroupRef{{Group: "g"}}, Errors: []string{"x"}},
	} {
		if err := Blind(rep); err != nil {
			t.Errorf("Blind(%+v) = %v", rep, err)
		}
	}
}

// codeDir makes a stand-in for the function's code directory, holding
// rules.yaml (the default, via BACKLOG_ALERT_RULES) and other.yaml, and
// returns it with its symlinks resolved.
func codeDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rules.yaml", "other.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("version: 1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("BACKLOG_ALERT_RULES", filepath.Join(dir, "rules.yaml"))
	return dir
}

// An event may name a rules file only inside the function's code
// directory; the refusal names the key and where files may be, never the
// file asked for or anything of its content.
func TestParseEventRulesConfinedToCodeDir(t *testing.T) {
	code := codeDir(t)
	outside := t.TempDir()
	secretFile := filepath.Join(outside, "secret-shadow.yaml")
	if err := os.WriteFile(secretFile, []byte("root:sekrit-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secretFile, filepath.Join(code, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(code, "linkdir")); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(code, secretFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, rules := range map[string]string{
		"/etc/passwd":             "/etc/passwd",
		"relative escape":         "../../etc/shadow",
		"relative escape to file": rel,
		"absolute escape via ..":  filepath.Join(code, "..") + "/../etc/passwd",
		"symlink out":             filepath.Join(code, "link.yaml"),
		"relative symlink out":    "link.yaml",
		"through a symlinked dir": filepath.Join(code, "linkdir", "secret-shadow.yaml"),
		"the code directory":      code,
		"missing file inside":     "missing.yaml",
		"outside file, outside":   secretFile,
		"NUL":                     "rules.yaml\x00x",
	} {
		t.Run(name, func(t *testing.T) {
			for _, event := range []string{
				`{"rules":` + quote(rules) + `}`,
				`{"triggerName":"t","payload":{"rules":` + quote(rules) + `}}`,
			} {
				o, err := ParseEvent([]byte(event))
				if err == nil {
					t.Fatalf("ParseEvent(%s) = %+v, want an error", event, o)
				}
				msg := err.Error()
				if !strings.Contains(msg, "rules: ") || !strings.Contains(msg, "code directory ("+code) {
					t.Errorf("error %q does not name the key and where rules files may be", msg)
				}
				for _, leak := range []string{"passwd", "shadow", "sekrit", "secret", "missing", "linkdir", "link.yaml", "root:"} {
					if strings.Contains(msg, leak) {
						t.Errorf("error %q quotes %q", msg, leak)
					}
				}
				if o != (Overrides{}) {
					t.Errorf("overrides %+v returned with the error", o)
				}
			}
		})
	}
}

func TestParseEventRulesInsideCodeDir(t *testing.T) {
	code := codeDir(t)
	if err := os.Mkdir(filepath.Join(code, "team"), 0o700); err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(code, "team", "rules.yaml")
	if err := os.WriteFile(nested, []byte("version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A symlink that stays inside is fine; the resolved path is used.
	if err := os.Symlink(nested, filepath.Join(code, "alias.yaml")); err != nil {
		t.Fatal(err)
	}
	for rules, want := range map[string]string{
		filepath.Join(code, "other.yaml"): filepath.Join(code, "other.yaml"),
		"other.yaml":                      filepath.Join(code, "other.yaml"),
		"team/rules.yaml":                 nested,
		"team/../other.yaml":              filepath.Join(code, "other.yaml"),
		"alias.yaml":                      nested,
	} {
		o, err := ParseEvent([]byte(`{"rules":` + quote(rules) + `}`))
		if err != nil || o.Rules != want {
			t.Errorf("rules %q: got %+v, %v; want %s", rules, o, err, want)
		}
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
