package alikafka_test

import (
	"os"
	"testing"
	"time"

	"github.com/backlog-alert/backlog-alert/progress"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/progress/alikafkatest"
)

// TestMain keeps every test on 127.0.0.1: no proxies, no ECS metadata
// address, no CLI profile or credentials file from the machine's home.
func TestMain(m *testing.M) {
	for _, k := range []string{
		"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
		"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
		"ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
		"ALIBABA_CLOUD_CREDENTIALS_URI", "ALIBABA_CLOUD_CREDENTIALS_FILE", "ALIBABA_CLOUD_PROFILE",
	} {
		os.Unsetenv(k)
	}
	os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	os.Setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
	home, err := os.MkdirTemp("", "alikafka-home")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// testCreds are recognisable so tests can look for leaks; the secret and
// token hold characters that URL encoding changes.
var testCreds = alikafka.Credentials{
	AccessKeyID:     "LTAI5tLeakCheckKeyId42",
	AccessKeySecret: "SecretLeakCheck/+=Value42",
	SecurityToken:   "CAISLeakCheck+Token/Value==42",
}

func fakeCreds(c alikafka.Credentials) alikafkatest.Credentials {
	return alikafkatest.Credentials{AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}
}

func newFake(t *testing.T) *alikafkatest.Server {
	t.Helper()
	s := alikafkatest.NewServer(fakeCreds(testCreds))
	t.Cleanup(s.Close)
	return s
}

// config reaches s fast: the default QPS would make tests with hundreds of
// groups slow. Tests of pacing set their own.
func config(s *alikafkatest.Server) alikafka.Config {
	return alikafka.Config{Credentials: testCreds, Endpoint: s.URL, Timeout: 5 * time.Second, QPS: 2000}
}

func newClient(t *testing.T, region string, cfg alikafka.Config) *alikafka.Client {
	t.Helper()
	c, err := alikafka.NewClient(region, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// group is a one-topic, two-partition group with the given backlog.
func group(region, instance, name string, diff int64) progress.Group {
	return progress.Group{
		Region: region, Instance: instance, Group: name, TotalDiff: diff, LastTimestamp: 1700000000000,
		Topics: []progress.Topic{{
			Topic: "orders", TotalDiff: diff, LastTimestamp: 1700000000000,
			Partitions: []progress.Partition{
				{Partition: 0, BrokerOffset: 100 + diff, ConsumerOffset: 100, LastTimestamp: 1700000000000},
				{Partition: 1, BrokerOffset: 50, ConsumerOffset: 50, LastTimestamp: 1699999999000},
			},
		}},
	}
}
