package deploy

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/backlog-alert/backlog-alert/function"
	"github.com/backlog-alert/backlog-alert/function/fc"
)

// root is the module root: s.yaml, template.yaml and the Makefile live there.
const root = ".."

// secretName matches environment variables whose values must never be
// written into a deployment file.
var secretName = regexp.MustCompile(`SECRET|TOKEN|WEBHOOK|PASSWORD`)

// secretLooking matches literal values that look like a real secret.
var secretLooking = regexp.MustCompile(`hooks\.slack\.com|oapi\.dingtalk\.com|access_token=|\bSEC[0-9a-f]{16,}|\bLTAI[0-9A-Za-z]{8,}`)

// overrideKeys are the keys a timer payload / scheduler Input may hold.
var overrideKeys = []string{"rules", "dry_run"}

// ---------- Function Compute: s.yaml ----------

func TestFunctionCompute(t *testing.T) {
	doc := loadYAML(t, "s.yaml")
	mk := readMakefile(t)
	fcEntries := mk.zipEntries(t, "fc.zip")

	if v := scalar(at(doc, "edition")); v != "3.0.0" {
		t.Errorf("edition = %q, want 3.0.0", v)
	}
	res := at(doc, "resources")
	var fns []*yaml.Node
	for i := 0; res != nil && i+1 < len(res.Content); i += 2 {
		if scalar(at(res.Content[i+1], "component")) == "fc3" {
			fns = append(fns, res.Content[i+1])
		}
	}
	if len(fns) != 1 {
		t.Fatalf("s.yaml has %d fc3 resources, want 1", len(fns))
	}
	fn := fns[0]
	props := at(fn, "props")

	var preDeploy []string
	for _, a := range seq(at(fn, "actions", "pre-deploy")) {
		preDeploy = append(preDeploy, scalar(at(a, "run")))
	}
	if !slices.Contains(preDeploy, "make package") {
		t.Errorf("actions.pre-deploy runs %q, want make package", preDeploy)
	}

	if v := scalar(at(props, "runtime")); v != "custom.debian12" {
		t.Errorf("runtime = %q, want custom.debian12", v)
	}
	// FC unpacks the code in /code; the binary is the fc.zip entry that is not
	// the rules file.
	var bin string
	for _, e := range fcEntries {
		if e != "rules.yaml" {
			bin = e
		}
	}
	if want, got := []string{"/code/" + bin, "serve"}, scalars(at(props, "customRuntimeConfig", "command")); !slices.Equal(got, want) {
		t.Errorf("customRuntimeConfig.command = %q, want %q (fc.zip holds %q)", got, want, fcEntries)
	}
	if v := intValue(t, at(props, "customRuntimeConfig", "port")); v != fc.DefaultPort {
		t.Errorf("customRuntimeConfig.port = %d, want fc.DefaultPort %d", v, fc.DefaultPort)
	}
	code := path.Clean(scalar(at(props, "code")))
	if dist := mk.variable(t, "DIST"); code != path.Join(dist, "fc.zip") && code != path.Join(dist, "fc") {
		t.Errorf("code = %q, want what make package writes: %s/fc.zip or %s/fc", code, dist, dist)
	}
	if v := intValue(t, at(props, "instanceConcurrency")); v != 1 {
		t.Errorf("instanceConcurrency = %d, want 1 (one writer for state)", v)
	}
	if v := intValue(t, at(props, "timeout")); v != int(function.TemplateTimeout.Seconds()) || v >= 300 {
		t.Errorf("timeout = %d s, want function.TemplateTimeout (%s, what validate checks against), below the 300 s timer interval", v, function.TemplateTimeout)
	}
	if v := intValue(t, at(props, "asyncInvokeConfig", "maxAsyncRetryAttempts")); v != 0 {
		t.Errorf("asyncInvokeConfig.maxAsyncRetryAttempts = %d, want 0 (a retry repeats alerts)", v)
	}
	if v := scalar(at(props, "role")); !strings.Contains(v, "${") {
		t.Errorf("role = %q: want it from a variable, not written in s.yaml", v)
	}

	var timers []*yaml.Node
	for _, tr := range seq(at(props, "triggers")) {
		if scalar(at(tr, "triggerType")) == "timer" {
			timers = append(timers, tr)
		}
	}
	if len(timers) != 1 {
		t.Fatalf("s.yaml has %d timer triggers, want 1", len(timers))
	}
	cfg := at(timers[0], "triggerConfig")
	if v := scalar(at(cfg, "cronExpression")); v != "0 */5 * * * *" && v != "@every 5m" {
		t.Errorf("cronExpression = %q, want every 5 minutes (0 */5 * * * * or @every 5m)", v)
	}
	if v := scalar(at(cfg, "enable")); v != "true" {
		t.Errorf("trigger enable = %q, want true", v)
	}
	checkOverrides(t, "triggerConfig.payload", scalar(at(cfg, "payload")))

	env := mapping(at(props, "environmentVariables"))
	if v := env["BACKLOG_ALERT_RULES"]; v != "/code/rules.yaml" || !slices.Contains(fcEntries, "rules.yaml") {
		t.Errorf("BACKLOG_ALERT_RULES = %q, want /code/rules.yaml (fc.zip holds %q)", v, fcEntries)
	}
	if v := env["BACKLOG_ALERT_LOG_FORMAT"]; v != "json" {
		t.Errorf("BACKLOG_ALERT_LOG_FORMAT = %q, want json", v)
	}
	if _, ok := env["BACKLOG_ALERT_STATE"]; !ok {
		t.Error("BACKLOG_ALERT_STATE is missing (optional, but listed so users find it)")
	}
	for name, v := range env {
		if strings.HasPrefix(name, "ALIBABA_CLOUD_") {
			t.Errorf("%s is set: on FC the credentials come from the role", name)
		}
		fromEnv := regexp.MustCompile(`^\$\{env\('` + regexp.QuoteMeta(name) + `'(, *'')?\)\}$`)
		if secretName.MatchString(name) && !fromEnv.MatchString(v) {
			t.Errorf("%s = %q: a secret must come from the deployer's environment: ${env('%s')}", name, v, name)
		}
	}
	for _, name := range rulesEnvRefs(t, mk) {
		if _, ok := env[name]; !ok {
			t.Errorf("the packaged rules use ${%s} but s.yaml does not set it", name)
		}
	}
	noLiteralSecrets(t, "s.yaml", doc)
}

// ---------- AWS Lambda: template.yaml ----------

func TestSAMTemplate(t *testing.T) {
	doc := loadYAML(t, "template.yaml")
	mk := readMakefile(t)
	lambdaEntries := mk.zipEntries(t, "lambda.zip")

	if v := scalar(at(doc, "AWSTemplateFormatVersion")); v != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion = %q", v)
	}
	if v := scalar(at(doc, "Transform")); v != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform = %q", v)
	}
	noEcho := map[string]bool{}
	params := at(doc, "Parameters")
	for i := 0; params != nil && i+1 < len(params.Content); i += 2 {
		p := params.Content[i+1]
		if scalar(at(p, "NoEcho")) == "true" {
			noEcho[params.Content[i].Value] = true
			if d := at(p, "Default"); d != nil && d.Value != "" {
				t.Errorf("parameter %s: a NoEcho parameter has a default value", params.Content[i].Value)
			}
		}
	}
	for _, p := range []string{"AlibabaCloudAccessKeySecret", "SlackWebhookUrl", "DingTalkWebhookUrl", "DingTalkSecret"} {
		if !noEcho[p] {
			t.Errorf("parameter %s: want NoEcho: true", p)
		}
	}

	res := at(doc, "Resources")
	var id string
	var fn *yaml.Node
	for i := 0; res != nil && i+1 < len(res.Content); i += 2 {
		if scalar(at(res.Content[i+1], "Type")) == "AWS::Serverless::Function" {
			if fn != nil {
				t.Fatal("template.yaml has more than one function")
			}
			id, fn = res.Content[i].Value, res.Content[i+1]
		}
	}
	if fn == nil {
		t.Fatal("template.yaml has no AWS::Serverless::Function")
	}
	if v := scalar(at(fn, "Metadata", "BuildMethod")); v != "makefile" {
		t.Errorf("Metadata.BuildMethod = %q, want makefile", v)
	}
	if !mk.hasTarget("build-" + id) {
		t.Errorf("Makefile has no target build-%s, which sam build runs for %s", id, id)
	}
	props := at(fn, "Properties")
	want := map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap", "CodeUri": "."}
	for k, w := range want {
		if v := scalar(at(props, k)); v != w {
			t.Errorf("%s = %q, want %q", k, v, w)
		}
	}
	if !slices.Contains(lambdaEntries, "bootstrap") {
		t.Errorf("lambda.zip holds %q, want bootstrap", lambdaEntries)
	}
	goArch := map[string]string{"x86_64": "amd64", "arm64": "arm64"}
	if a := scalars(at(props, "Architectures")); len(a) != 1 || goArch[a[0]] != mk.variable(t, "LAMBDA_ARCH") {
		t.Errorf("Architectures = %q, but the Makefile builds LAMBDA_ARCH=%s", a, mk.variable(t, "LAMBDA_ARCH"))
	}
	if v := intValue(t, at(props, "Timeout")); v != int(function.TemplateTimeout.Seconds()) || v >= 300 {
		t.Errorf("Timeout = %d s, want function.TemplateTimeout (%s, what validate checks against), below the 5-minute schedule", v, function.TemplateTimeout)
	}
	if v := intValue(t, at(props, "EventInvokeConfig", "MaximumRetryAttempts")); v != 0 {
		t.Errorf("EventInvokeConfig.MaximumRetryAttempts = %d, want 0 (a retry repeats alerts)", v)
	}

	events := at(props, "Events")
	if events == nil || len(events.Content) != 2 {
		t.Fatal("want exactly one event")
	}
	ev := events.Content[1]
	if v := scalar(at(ev, "Type")); v != "ScheduleV2" {
		t.Errorf("event Type = %q, want ScheduleV2", v)
	}
	if v := scalar(at(ev, "Properties", "ScheduleExpression")); v != "rate(5 minutes)" {
		t.Errorf("ScheduleExpression = %q, want rate(5 minutes)", v)
	}
	checkOverrides(t, "Events Input", scalar(at(ev, "Properties", "Input")))

	vars := at(props, "Environment", "Variables")
	env := mapping(vars)
	if v := env["BACKLOG_ALERT_RULES"]; v != "/var/task/rules.yaml" || !slices.Contains(lambdaEntries, "rules.yaml") {
		t.Errorf("BACKLOG_ALERT_RULES = %q, want /var/task/rules.yaml (lambda.zip holds %q)", v, lambdaEntries)
	}
	if v := env["BACKLOG_ALERT_LOG_FORMAT"]; v != "json" {
		t.Errorf("BACKLOG_ALERT_LOG_FORMAT = %q, want json", v)
	}
	for _, name := range []string{"BACKLOG_ALERT_STATE", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"} {
		if _, ok := env[name]; !ok {
			t.Errorf("%s is not set", name)
		}
	}
	for i := 0; vars != nil && i+1 < len(vars.Content); i += 2 {
		name, v := vars.Content[i].Value, vars.Content[i+1]
		if !secretName.MatchString(name) {
			continue
		}
		refs := refs(v)
		ok := len(refs) > 0
		for _, r := range refs {
			ok = ok && (noEcho[r] || r == "AWS::NoValue")
		}
		if !ok {
			t.Errorf("%s: a secret must be a !Ref to a NoEcho parameter, got refs %q", name, refs)
		}
	}
	for _, name := range rulesEnvRefs(t, mk) {
		if _, ok := env[name]; !ok {
			t.Errorf("the packaged rules use ${%s} but template.yaml does not set it", name)
		}
	}
	if at(doc, "Outputs") == nil {
		t.Error("template.yaml has no Outputs")
	}
	noLiteralSecrets(t, "template.yaml", doc)
}

// ---------- RAM policy ----------

// TestRAMPolicy checks the policy allows every alikafka call the binary makes.
func TestRAMPolicy(t *testing.T) {
	data, err := os.ReadFile("ram-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource any
		}
	}
	if err := json.Unmarshal(data, &policy); err != nil {
		t.Fatalf("ram-policy.json: %v", err)
	}
	if policy.Version != "1" {
		t.Errorf("Version = %q, want \"1\"", policy.Version)
	}
	allowed := map[string]bool{}
	for _, s := range policy.Statement {
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("action %q: least privilege means no wildcards", a)
			}
			allowed[a] = s.Effect == "Allow"
		}
	}
	files, _ := filepath.Glob(filepath.Join(root, "progress", "alikafka", "*.go"))
	call := regexp.MustCompile(`\.Create(\w+)Request\(\)`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllSubmatch(src, -1) {
			found++
			if a := "alikafka:" + string(m[1]); !allowed[a] {
				t.Errorf("%s calls %s, which ram-policy.json does not allow", filepath.Base(f), a)
			}
		}
	}
	if found == 0 {
		t.Error("found no alikafka API calls in progress/alikafka: has the code moved?")
	}
}

// ---------- make package ----------

// TestPackage builds both zips (two cross-compiled binaries) and checks what
// they hold.
func TestPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dist := t.TempDir()
	artifacts := filepath.Join(dist, "artifacts")
	if err := os.Mkdir(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	makeRun(t, "package", "DIST="+dist, "VERSION=deploy-test")
	rules, err := os.ReadFile(filepath.Join(root, packagedRules(t, readMakefile(t))))
	if err != nil {
		t.Fatal(err)
	}

	fcBin := checkZip(t, filepath.Join(dist, "fc.zip"), "backlog-alert", rules)
	lambdaBin := checkZip(t, filepath.Join(dist, "lambda.zip"), "bootstrap", rules)
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	checkStaticELF(t, "fc.zip backlog-alert", fcBin, elf.EM_X86_64)
	checkStaticELF(t, "lambda.zip bootstrap", lambdaBin, machine[readMakefile(t).variable(t, "LAMBDA_ARCH")])

	// The unpacked binary carries the version from -ldflags.
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		out, err := exec.Command(filepath.Join(dist, "fc", "backlog-alert"), "version").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "backlog-alert deploy-test" {
			t.Errorf("backlog-alert version: %q, %v; want \"backlog-alert deploy-test\"", out, err)
		}
	}

	// What sam build runs: the same bootstrap, already built, into ARTIFACTS_DIR.
	makeRun(t, "build-BacklogAlertFunction", "DIST="+dist, "VERSION=deploy-test", "ARTIFACTS_DIR="+artifacts)
	got, err := os.ReadFile(filepath.Join(artifacts, "bootstrap"))
	if err != nil || !bytes.Equal(got, lambdaBin) {
		t.Errorf("ARTIFACTS_DIR/bootstrap differs from lambda.zip's (%v)", err)
	}
	if fi, err := os.Stat(filepath.Join(artifacts, "bootstrap")); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("ARTIFACTS_DIR/bootstrap is not executable (%v)", err)
	}
	if got, err := os.ReadFile(filepath.Join(artifacts, "rules.yaml")); err != nil || !bytes.Equal(got, rules) {
		t.Errorf("ARTIFACTS_DIR/rules.yaml differs from the rules file (%v)", err)
	}
}

func makeRun(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("make", args...)
	cmd.Dir = root
	// Variables from the caller's environment would change what is built.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "RULES", "LAMBDA_ARCH", "DIST", "ARTIFACTS_DIR", "VERSION", "GOOS", "GOARCH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// checkZip checks the zip holds exactly bin (0755) and rules.yaml (0644, equal
// to rules) and returns the binary.
func checkZip(t *testing.T, name, bin string, rules []byte) []byte {
	t.Helper()
	zr, err := zip.OpenReader(name)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	var binData []byte
	for _, f := range zr.File {
		names = append(names, f.Name)
		want := os.FileMode(0o644)
		if f.Name == bin {
			want = 0o755
		}
		if f.Mode().Perm() != want || !f.Mode().IsRegular() {
			t.Errorf("%s: %s has mode %v, want %v", filepath.Base(name), f.Name, f.Mode(), want)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch f.Name {
		case bin:
			binData = data
		case "rules.yaml":
			if !bytes.Equal(data, rules) {
				t.Errorf("%s: rules.yaml differs from the rules file", filepath.Base(name))
			}
		}
	}
	if want := []string{bin, "rules.yaml"}; !slices.Equal(names, want) {
		t.Fatalf("%s holds %q, want exactly %q", filepath.Base(name), names, want)
	}
	return binData
}

// checkStaticELF: a linux executable for machine with no interpreter and no
// dynamic section, so it runs on custom.debian12 and provided.al2023 alike.
func checkStaticELF(t *testing.T, what string, data []byte, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not an ELF file: %v", what, err)
	}
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("%s: machine %v type %v, want %v ET_EXEC", what, f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: has %v: not statically linked", what, p.Type)
		}
	}
	if f.Section(".dynamic") != nil {
		t.Errorf("%s: has a .dynamic section", what)
	}
}

// ---------- helpers ----------

func checkOverrides(t *testing.T, what, payload string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		t.Errorf("%s %q: want a JSON object: %v", what, payload, err)
		return
	}
	for k := range m {
		if !slices.Contains(overrideKeys, k) {
			t.Errorf("%s: unknown override %q (want %q)", what, k, overrideKeys)
		}
	}
}

// noLiteralSecrets scans every scalar for something that looks like a real
// webhook, signing secret or AccessKey.
func noLiteralSecrets(t *testing.T, file string, n *yaml.Node) {
	t.Helper()
	if n.Kind == yaml.ScalarNode && secretLooking.MatchString(n.Value) {
		t.Errorf("%s:%d: looks like a literal secret", file, n.Line)
	}
	for _, c := range n.Content {
		noLiteralSecrets(t, file, c)
	}
}

// rulesEnvRefs lists the ${NAME} references of the rules file make package packs.
func rulesEnvRefs(t *testing.T, mk makefile) []string {
	data, err := os.ReadFile(filepath.Join(root, packagedRules(t, mk)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllSubmatch(data, -1) {
		if !slices.Contains(names, string(m[1])) {
			names = append(names, string(m[1]))
		}
	}
	return names
}

// packagedRules mirrors the Makefile: rules.yaml if it exists, else the example.
func packagedRules(t *testing.T, mk makefile) string {
	if v := mk.variable(t, "RULES"); v != "$(if $(wildcard rules.yaml),rules.yaml,rules/example.yaml)" {
		t.Fatalf("RULES ?= %s: update packagedRules in this test", v)
	}
	if _, err := os.Stat(filepath.Join(root, "rules.yaml")); err == nil {
		return "rules.yaml"
	}
	return "rules/example.yaml"
}

func loadYAML(t *testing.T, name string) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: not a YAML mapping", name)
	}
	return doc.Content[0]
}

// at follows mapping keys; nil when one is missing.
func at(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func scalars(n *yaml.Node) []string {
	var out []string
	for _, c := range seq(n) {
		out = append(out, scalar(c))
	}
	return out
}

// mapping returns a mapping's keys with their scalar values ("" for others).
func mapping(n *yaml.Node) map[string]string {
	m := map[string]string{}
	for i := 0; n != nil && n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		m[n.Content[i].Value] = scalar(n.Content[i+1])
	}
	return m
}

func intValue(t *testing.T, n *yaml.Node) int {
	t.Helper()
	v, err := strconv.Atoi(scalar(n))
	if err != nil {
		t.Errorf("line %d: want an integer, got %q", lineOf(n), scalar(n))
		return -1
	}
	return v
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// refs lists the CloudFormation references in n, short (!Ref X) or long
// (Ref: X) form, looking inside !If and friends.
func refs(n *yaml.Node) []string {
	var out []string
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!Ref":
		out = append(out, n.Value)
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "Ref" {
				out = append(out, scalar(n.Content[i+1]))
			} else {
				out = append(out, refs(n.Content[i+1])...)
			}
		}
	case n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			if n.Tag == "!If" && i == 0 {
				continue // the condition name
			}
			out = append(out, refs(c)...)
		}
	}
	return out
}

type makefile string

func readMakefile(t *testing.T) makefile {
	data, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	return makefile(data)
}

func (m makefile) hasTarget(name string) bool {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:`).MatchString(string(m))
}

// variable returns the value of NAME ?= value (or := / =).
func (m makefile) variable(t *testing.T, name string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*(?:\?=|:=|=)\s*(.*?)\s*$`)
	v := re.FindStringSubmatch(string(m))
	if v == nil {
		t.Fatalf("Makefile does not set %s", name)
	}
	return v[1]
}

// zipEntries returns the entry names of the mkzip line that writes $(DIST)/<zip>.
func (m makefile) zipEntries(t *testing.T, zipName string) []string {
	t.Helper()
	for _, line := range strings.Split(string(m), "\n") {
		f := strings.Fields(line)
		i := slices.Index(f, "-o")
		if i < 0 || i+1 >= len(f) || f[i+1] != "$(DIST)/"+zipName || !strings.Contains(line, "tools/mkzip") && !strings.Contains(line, "$(MKZIP)") {
			continue
		}
		var names []string
		for _, a := range f[i+2:] {
			if name, _, ok := strings.Cut(a, "="); ok {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return names
	}
	t.Fatalf("Makefile has no mkzip line writing $(DIST)/%s", zipName)
	return nil
}
