package function

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/progress/alikafka"
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
		failures[k] = append(failures[k], f)
	}
	var spots []lifecycle.BlindSpot
	for k, fs := range failures {
		reason := ""
		unreadable, listed := 0, true
		for _, f := range fs {
			if f.Op == alikafka.OpList {
				listed = false
			} else {
				unreadable++
			}
		}
		switch code := rejected(fs); {
		case code != "":
			reason = fmt.Sprintf("credentials rejected (%s): check the AccessKey or STS token and the RAM policy (deploy/ram-policy.json)", code)
		case !listed && read[k] == 0:
			reason = "cannot list its consumer groups: " + firstError(fs, alikafka.OpList)
		case unreadable*2 > unreadable+read[k]:
			reason = fmt.Sprintf("%d of %d consumer groups unreadable: %s", unreadable, unreadable+read[k], firstError(fs, alikafka.OpProgress))
		default:
			continue
		}
		spots = append(spots, lifecycle.BlindSpot{Region: k.region, Instance: k.id, Reason: scrub.string(reason)})
	}
	slices.SortFunc(spots, func(a, b lifecycle.BlindSpot) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Instance, b.Instance))
	})
	return spots
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
