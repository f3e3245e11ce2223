package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/propose"
	"github.com/backlog-alert/backlog-alert/rules"
)

// minSample is the shortest --sample: a rate measured over less is mostly
// the moment's noise.
const minSample = 10 * time.Second

// listFlag is a flag that may be repeated, each value also split at commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			return errors.New("empty value")
		}
		if !slices.Contains(*l, part) {
			*l = append(*l, part)
		}
	}
	return nil
}

// initCmd discovers the instances and consumer groups of some regions and
// writes a rules file proposing how to watch them.
//
// Exit codes: 0 written; 1 written but something could not be read (the
// file says what), or nothing written because nothing to watch was found;
// 2 usage, no credentials or refused ones, or --out exists without --force.
// A partial file is written when at least one group was read: it says in
// its header what it leaves out, and the exit code says it is partial.
func initCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	flags := newFlags("init", stderr)
	var regions, instances listFlag
	flags.Var(&regions, "region", "region to discover, such as cn-hangzhou (repeat, or separate with commas, for more)")
	flags.Var(&instances, "instance", "discover only this instance ID (repeat for more); default every running instance")
	out := flags.String("out", "rules.yaml", "where to write the proposed rules; - for stdout")
	sample := flags.Duration("sample", 0, fmt.Sprintf("read every group twice this far apart (at least %s) to measure production rates", minSample))
	byTag := flags.String("by-tag", "", "one rule per value of this consumer-group tag, and per instance one for the groups without it")
	force := flags.Bool("force", false, "replace --out if it exists")
	if flags.Parse(args) != nil {
		return function.ExitSetup
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "init: "+format+"\n", a...)
		return function.ExitSetup
	}
	byTagSet := false
	flags.Visit(func(f *flag.Flag) { byTagSet = byTagSet || f.Name == "by-tag" })
	switch {
	case flags.NArg() > 0:
		return usageErr("unexpected argument %q (init takes only flags)", flags.Arg(0))
	case len(regions) == 0:
		return usageErr("name at least one --region, such as --region cn-hangzhou")
	case *sample < 0 || (*sample > 0 && *sample < minSample):
		return usageErr("--sample %s: use at least %s (or leave it out to read once)", *sample, minSample)
	case byTagSet && strings.TrimSpace(*byTag) == "":
		return usageErr("--by-tag needs a tag key, such as --by-tag team")
	case *out == "":
		return usageErr("--out needs a path, or - for stdout")
	}
	for _, r := range regions {
		if !rules.IsRegionID(r) {
			return usageErr("--region %q is not a region ID such as cn-hangzhou", r)
		}
	}
	// Refuse before any call: discovery can take minutes.
	if *out != "-" {
		info, err := os.Lstat(*out)
		switch {
		case err == nil && info.IsDir():
			return usageErr("--out %s is a directory; name the file, such as %s", *out, filepath.Join(*out, "rules.yaml"))
		case err == nil && !*force:
			return usageErr("%s exists; not overwriting it (--force replaces it, or choose another --out)", *out)
		}
		if dir, err := os.Stat(filepath.Dir(*out)); err != nil || !dir.IsDir() {
			return usageErr("--out %s: its directory %s does not exist", *out, filepath.Dir(*out))
		}
	}
	creds, err := alikafka.DefaultCredentials()
	if err != nil {
		return usageErr("no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS), or use a RAM role: %v", err)
	}
	scrub := func(s string) string {
		return notify.RedactText(alikafka.Redact(s), creds.AccessKeySecret, creds.SecurityToken)
	}

	started := time.Now()
	d, err := propose.Discover(ctx, propose.Options{
		Regions:     regions,
		Instances:   instances,
		Credentials: creds,
		Endpoint:    getenv("BACKLOG_ALERT_ENDPOINT"),
		Sample:      *sample,
		Logger:      newLogger(stderr, getenv),
	})
	if err != nil {
		fmt.Fprintf(stderr, "init: %s; nothing written\n", scrub(err.Error()))
		return function.ExitErrors
	}
	for _, p := range d.Problems {
		fmt.Fprintln(stderr, "init: "+scrub(p.String()))
	}
	for _, w := range d.Warnings {
		fmt.Fprintln(stderr, "init: warning: "+scrub(w))
	}
	path := *out
	if path == "-" {
		path = "rules.yaml" // for the commands the file suggests
	}
	p, err := propose.Propose(d, propose.Params{ByTag: strings.TrimSpace(*byTag), Path: path, Generated: started})
	if err != nil {
		if errors.Is(err, propose.ErrNothingToWatch) {
			writeInitSummary(stderr, d, p, "", "")
		}
		fmt.Fprintf(stderr, "init: %s in %s; nothing written\n", scrub(err.Error()), strings.Join(regions, ", "))
		if len(d.Groups) == 0 && slices.ContainsFunc(d.Problems, func(p propose.Problem) bool { return p.Refused }) {
			// The credentials, not the service, are what to fix.
			fmt.Fprintln(stderr, "init: the service refused the credentials: check ALIBABA_CLOUD_ACCESS_KEY_ID and its secret, "+
				"and that the RAM policy allows alikafka:GetInstanceList, alikafka:GetConsumerList and alikafka:GetConsumerProgress")
			return function.ExitSetup
		}
		return function.ExitErrors
	}
	if *out == "-" {
		if _, err := stdout.Write(p.Document); err != nil {
			fmt.Fprintln(stderr, "init:", err)
			return function.ExitErrors
		}
	} else if err := writeNewFile(*out, p.Document, *force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return usageErr("%s appeared while init was discovering; not overwriting it (--force replaces it)", *out)
		}
		fmt.Fprintf(stderr, "init: cannot write %s: %v\n", *out, err)
		return function.ExitErrors
	}
	where := *out
	if where == "-" {
		where = "the rules to stdout"
	}
	writeInitSummary(stderr, d, p, where, path)
	if len(d.Problems) > 0 {
		fmt.Fprintln(stderr, "init: the rules leave out what could not be read (listed above and in the file's header): exit 1")
		return function.ExitErrors
	}
	return function.ExitOK
}

// writeInitSummary says what init saw and, unless where is empty, where it
// wrote the rules and what to do next.
func writeInitSummary(w io.Writer, d *propose.Discovery, p *propose.Proposal, where, path string) {
	read := d.ReadInstances()
	skipped := 0
	for _, in := range d.Instances {
		if !in.Running {
			skipped++
		}
	}
	regions := strings.Join(d.Regions, ", ")
	fmt.Fprintf(w, "init: %s: %s read", regions, propose.Plural(len(read), "instance"))
	if skipped > 0 {
		fmt.Fprintf(w, " (%d not running, skipped)", skipped)
	}
	fmt.Fprintf(w, ", %s: %d watched by %s, %d excluded as test groups; %s",
		propose.Plural(len(d.Groups), "consumer group"), p.Watched(), propose.Plural(len(p.Rules), "rule"), len(p.Excluded), propose.Plural(d.Calls, "OpenAPI call"))
	if d.Throttled > 0 {
		fmt.Fprintf(w, " (%d throttled and retried)", d.Throttled)
	}
	if d.Sample > 0 {
		fmt.Fprintf(w, ", rates measured over %s", d.Sample.Round(time.Second))
	}
	fmt.Fprintln(w, ".")
	if where == "" {
		return // nothing was written (the demo)
	}
	fmt.Fprintf(w, "init: wrote %s. Next:\n", where)
	for _, v := range p.Variables() {
		fmt.Fprintf(w, "  export %s=https://hooks.slack.com/services/...\n", v)
	}
	if path != where { // printed, not saved
		fmt.Fprintf(w, "  (save the rules as %s)\n", path)
	}
	fmt.Fprintf(w, "  backlog-alert validate --rules %s\n", path)
	fmt.Fprintf(w, "  backlog-alert run --rules %s --dry-run\n", path)
}

// writeNewFile writes data to path through a temporary file in the same
// directory, so that nobody ever reads half a file. With replace it renames
// the file into place; without, it links it there, which fails with
// fs.ErrExist if path exists, whenever it appeared.
func writeNewFile(path string, data []byte, replace bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after a rename; the spare name after a link
	_, err = tmp.Write(data)
	if err == nil {
		// It holds no secret (channels are ${VARIABLES}): readable like
		// any configuration.
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if replace {
		return os.Rename(tmp.Name(), path)
	}
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// A file system without hard links: check, then rename.
	if _, serr := os.Lstat(path); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(tmp.Name(), path)
}
