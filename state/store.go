package state

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/credentials"
)

// Store is where the state document lives between runs.
type Store interface {
	// Load returns the stored document; ErrNotFound (errors.Is) when there is
	// none yet.
	Load(ctx context.Context) ([]byte, error)
	// Save replaces the document atomically: a reader sees the old or the new
	// one, never a mix.
	Save(ctx context.Context, data []byte) error
	// SetAside moves a corrupt or unreadable document out of the way so the
	// next Save starts fresh, and returns a human description of where it
	// went: a file is renamed to "<path>.corrupt-<UTC timestamp>"; an OSS
	// object is copied to "oss://bucket/<key>.corrupt-<UTC timestamp>". On
	// failure it returns "" and the error: the bytes are never dropped
	// silently. With nothing to set aside the error wraps ErrNotFound.
	SetAside(ctx context.Context, now time.Time) (string, error)
	// String names the location for people, without any secret, e.g.
	// "file /tmp/x/state.json" or "oss://bucket/key (cn-hangzhou)".
	String() string
	// Ephemeral reports whether the location is lost when a serverless
	// instance is recycled (/tmp on Function Compute or Lambda).
	Ephemeral() bool
	// Lock takes the state's lease for one run, waiting up to wait for a holder to release it. until is
	// when the run must be over (its deadline); the lease expires a margin after it, so a killed holder
	// never blocks the state for longer. It returns ErrLocked (errors.Is), wrapped in a *LockedError
	// saying who holds it and since when, if another live run still holds it after wait.
	// A lease whose holder is gone (an expired OSS lock; a file lock is freed by the OS when its process dies)
	// is taken over, and Lease.TookOver says so.
	Lock(ctx context.Context, owner string, wait time.Duration, until time.Time) (Lease, error)
}

// Lease is a run's hold on the state, from Store.Lock.
type Lease interface {
	// Held returns nil while the lease is still ours (OSS: re-reads the lock object with If-Match on its ETag), else an error: save only while it is held.
	Held(ctx context.Context) error
	// Release gives the lease up; safe to call twice.
	Release(ctx context.Context) error
	// TookOver describes a stale lease this one replaced ("" if none): its owner and since when.
	TookOver() string
}

// ErrLocked is returned (wrapped, in a *LockedError) by Lock when another run
// holds the state.
var ErrLocked = errors.New("another run holds the state")

// ErrLeaseLost is returned (wrapped) by Lease.Held, and by Release, when the
// lease is no longer ours: released, expired, or taken over by another run.
var ErrLeaseLost = errors.New("the lease on the state is no longer held")

// LockedError says who holds the state. Expires is zero for a file lock,
// which lasts as long as its holder's process.
type LockedError struct {
	Owner          string
	Since, Expires time.Time
}

func (e *LockedError) Error() string {
	owner := e.Owner
	if owner == "" {
		owner = "an unknown owner"
	}
	if e.Since.IsZero() {
		return fmt.Sprintf("%v: %s", ErrLocked, owner)
	}
	return fmt.Sprintf("%v: %s, since %s", ErrLocked, owner, e.Since.UTC().Format(time.RFC3339))
}

// Unwrap gives ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// LeaseMargin is how long after its until a lease expires and may be taken
// over by another run.
const LeaseMargin = 30 * time.Second

// maxOwner bounds the owner recorded in a lock.
const maxOwner = 256

func lockOwner(owner string) string {
	owner = strings.TrimSpace(owner)
	if len(owner) > maxOwner {
		owner = owner[:maxOwner]
	}
	return owner
}

// sleepCtx waits d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrNotFound is returned (wrapped) by Load when no document has been saved
// yet, and by SetAside when there is nothing to set aside.
var ErrNotFound = errors.New("no state yet")

// ErrNoCredentials is returned (wrapped) by the operations of an OSS store
// opened without an AccessKey ID and secret.
var ErrNoCredentials = errors.New("no Alibaba Cloud credentials for OSS")

// MaxDocumentSize bounds the document: Load refuses a larger one (a wrong
// location, not a state document) and Save refuses to write one.
const MaxDocumentSize = 16 << 20

// TimestampFormat is the UTC timestamp appended to a document set aside:
// "<location>.corrupt-20261121T120000Z".
const TimestampFormat = "20060102T150405Z"

// DefaultServerlessLocation is the default location on Function Compute and
// Lambda, where /tmp is the only writable directory. It lasts only as long as
// the instance: configure an oss:// location to keep state reliably.
const DefaultServerlessLocation = "/tmp/backlog-alert/state.json"

// Options configures Open.
type Options struct {
	// Credentials for OSS: the same ones the alikafka client uses. The OSS
	// SDK's own environment provider (OSS_ACCESS_KEY_ID...) is never used.
	Credentials Credentials
	// Region is the default region of oss:// locations without ?region=.
	Region string
	// OSSEndpoint overrides the OSS endpoint (BACKLOG_ALERT_OSS_ENDPOINT),
	// e.g. "http://127.0.0.1:PORT" for a local fake: requests then use
	// path-style addressing (bucket in the path), and plain HTTP when the
	// scheme is http. An endpoint under aliyuncs.com keeps OSS's
	// virtual-hosted style, which OSS requires.
	OSSEndpoint string
	// HTTPClient, when set, carries OSS requests (its timeouts apply);
	// otherwise the SDK's client with a 5 s connect and 15 s read/write
	// timeout, honouring HTTPS_PROXY and NO_PROXY.
	HTTPClient *http.Client
	// Serverless is true inside Function Compute or Lambda: a file under
	// /tmp is then Ephemeral.
	Serverless bool
}

// Credentials are the AccessKey the alikafka client uses too.
type Credentials = credentials.Credentials

// schemeRE matches a URL scheme. One letter is not a scheme ("C:"), and a
// relative path with a colon can be written "./name:x".
var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+):`)

// Open parses a location: a plain path or file:///abs/path gives a file
// store; oss://bucket/key[?region=cn-xxx] an OSS store. Any other scheme, an
// empty bucket or key, or an unknown query parameter is an error that names
// the location (never the credentials or query values it may hold).
// Open makes no request and touches no file. A Store is meant to be used
// from one goroutine at a time.
func Open(location string, opts Options) (Store, error) {
	if strings.TrimSpace(location) == "" {
		return nil, errors.New("state: empty location")
	}
	m := schemeRE.FindStringSubmatch(location)
	if m == nil {
		return openFile(location, location, opts)
	}
	switch strings.ToLower(m[1]) {
	case "file":
		return openFileURL(location, opts)
	case "oss":
		return openOSS(location, opts)
	default:
		hint := ""
		if !strings.Contains(location, "://") {
			hint = fmt.Sprintf(" (for a relative path, write ./%s)", safeLocation(location))
		}
		return nil, fmt.Errorf("state: location %q: unsupported scheme %q: want a path, file:///path or oss://bucket/key%s",
			safeLocation(location), m[1], hint)
	}
}

func openFileURL(location string, opts Options) (Store, error) {
	safe := safeLocation(location)
	u, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("state: location %q: not a valid file URL", safe)
	}
	switch {
	case u.Opaque != "":
		return nil, fmt.Errorf("state: location %q: a file URL needs an absolute path (file:///path)", safe)
	case u.User != nil:
		return nil, fmt.Errorf("state: location %q: a file URL takes no user", safe)
	case u.Host != "" && u.Host != "localhost":
		return nil, fmt.Errorf("state: location %q: a file URL names no host: write file:///path", safe)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("state: location %q: unknown query parameter(s) %s", safe, queryNames(u.Query()))
	case u.Fragment != "":
		return nil, fmt.Errorf("state: location %q: a file URL takes no #fragment", safe)
	case u.Path == "":
		return nil, fmt.Errorf("state: location %q: no path", safe)
	}
	return openFile(location, u.Path, opts)
}

func openFile(location, path string, opts Options) (Store, error) {
	if path == "~" || strings.HasPrefix(path, "~/") {
		return nil, fmt.Errorf("state: location %q: ~ is not expanded: write the full path", safeLocation(location))
	}
	if strings.HasSuffix(path, "/") || strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/..") || path == "." || path == ".." {
		return nil, fmt.Errorf("state: location %q names a directory: name the file, e.g. %s", safeLocation(location), filepath.Join(path, "state.json"))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("state: location %q: %v", safeLocation(location), err)
	}
	return &fileStore{
		path:      abs,
		ephemeral: opts.Serverless && (abs == "/tmp" || strings.HasPrefix(abs, "/tmp/")),
	}, nil
}

// queryNames lists the parameter names of q, never their values.
func queryNames(q url.Values) string {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, fmt.Sprintf("%q", k))
	}
	slices.Sort(names)
	if len(names) == 0 {
		return `""`
	}
	return strings.Join(names, ", ")
}

var userinfoRE = regexp.MustCompile(`//[^/?#]*@`)

// safeLocation is location without what could be a secret: a user and
// password, query values other than region, a fragment.
func safeLocation(location string) string {
	s := userinfoRE.ReplaceAllString(location, "//")
	s, _, hasFrag := strings.Cut(s, "#")
	base, query, hasQuery := strings.Cut(s, "?")
	if hasQuery {
		var kept []string
		for part := range strings.SplitSeq(query, "&") {
			k, _, _ := strings.Cut(part, "=")
			if strings.EqualFold(k, "region") {
				kept = append(kept, part)
			} else {
				kept = append(kept, k+"=…")
			}
		}
		base += "?" + strings.Join(kept, "&")
	}
	if hasFrag {
		base += "#…"
	}
	return base
}

// DefaultLocation is the location used when neither the rules file's
// `state:`, --state nor BACKLOG_ALERT_STATE names one: on Function Compute or
// Lambda DefaultServerlessLocation (ephemeral); else
// $XDG_STATE_HOME/backlog-alert/state.json, else
// $HOME/.local/state/backlog-alert/state.json. Everything is read through
// getenv (os.Getenv when nil), HOME included, so tests need not touch the real
// home. A relative XDG_STATE_HOME is ignored, as the XDG spec says.
func DefaultLocation(serverless bool, getenv func(string) string) (string, error) {
	if serverless {
		return DefaultServerlessLocation, nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "backlog-alert", "state.json"), nil
	}
	home := getenv("HOME")
	if home == "" || !filepath.IsAbs(home) {
		return "", errors.New("state: no default location: HOME is not set to an absolute path; set BACKLOG_ALERT_STATE, --state or the rules file's state:")
	}
	return filepath.Join(home, ".local", "state", "backlog-alert", "state.json"), nil
}
