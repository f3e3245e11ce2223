package function

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
	"github.com/backlog-alert/backlog-alert/rules"
)

// blindSpots are the instances this run could not see well enough to trust
// its silence: credentials rejected, its groups could not be listed, or
// more than half of its groups unreadable.
func blindSpots(out alikafka.Outcome, scrub *scrubber) []lifecycle.BlindSpot {
	type instance struct{ region, id string }
	read := map[instance]int{}
	for _, g := range out.Snapshot.Groups {
		read[instance{g.Region, g.Instance}]++
	}
	failures := map[instance][]alikafka.Failure{}
	for _, f := range append(slices.Clone(out.Failures), out.NotEvaluated...) {
		k := instance{f.Region, f.Instance}
		if f.Op == alikafka.OpInstances {
			k.id = rules.AllInstances // what the rules watching every instance cannot see
		}
		failures[k] = append(failures[k], f)
	}
	var spots []lifecycle.BlindSpot
	for k, fs := range failures {
		var cause rules.BlindCause
		unreadable, listed := 0, true
		for _, f := range fs {
			if f.Op == alikafka.OpList || f.Op == alikafka.OpInstances {
				listed = false
			} else {
				unreadable++
			}
		}
		switch code := rejected(fs); {
		case code != "":
			cause = rules.BlindCause{Kind: rules.BlindCredentials, Code: code}
		case k.id == rules.AllInstances:
			cause = rules.BlindCause{Kind: rules.BlindInstances, Error: firstError(fs, alikafka.OpInstances)}
		case !listed && read[k] == 0:
			cause = rules.BlindCause{Kind: rules.BlindListing, Error: firstError(fs, alikafka.OpList)}
		case unreadable*2 > unreadable+read[k]:
			cause = rules.BlindCause{Kind: rules.BlindUnreadable, Unreadable: unreadable, Groups: unreadable + read[k], Error: firstError(fs, alikafka.OpProgress)}
		default:
			continue
		}
		spots = append(spots, blindSpot(k.region, k.id, cause, scrub))
	}
	slices.SortFunc(spots, func(a, b lifecycle.BlindSpot) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Instance, b.Instance))
	})
	return spots
}

// blindSpot scrubs the cause and words it in English for the report.
func blindSpot(region, instance string, cause rules.BlindCause, scrub *scrubber) lifecycle.BlindSpot {
	cause.Code, cause.Error = scrub.string(cause.Code), scrub.string(cause.Error)
	return lifecycle.BlindSpot{Region: region, Instance: instance, Reason: notify.English.BlindReason(cause), Cause: cause}
}

// rejected returns the service's code when it refused the credentials.
func rejected(fs []alikafka.Failure) string {
	for _, f := range fs {
		var ae *alikafka.APIError
		if !errors.As(f.Err, &ae) {
			continue
		}
		for _, prefix := range []string{"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSecurityToken", "MissingSecurityToken", "Forbidden", "NoPermission"} {
			if strings.HasPrefix(ae.Code, prefix) {
				return ae.Code
			}
		}
	}
	return ""
}

func firstError(fs []alikafka.Failure, op string) string {
	for _, f := range fs {
		if f.Op == op || op == "" {
			return f.Err.Error()
		}
	}
	return fs[0].Err.Error()
}
