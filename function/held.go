package function

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/backlog-alert/backlog-alert/lifecycle"
	"github.com/backlog-alert/backlog-alert/notify"
	"github.com/backlog-alert/backlog-alert/rules"
	"github.com/backlog-alert/backlog-alert/state"
)

// recordable saves the state before anything is sent, so that a run finds
// out whether it can record what it sends before it sends it. What is due is
// saved as due: a crash before delivery sends it next run.
func recordable(ctx context.Context, l *lease, store state.Store, st *lifecycle.State, now time.Time, canSave bool) error {
	if !canSave {
		return errors.New("the state could not be read, so what this run sends could not be told apart from what earlier runs sent")
	}
	return l.save(ctx, store, st, now)
}

// holdBack stands in for delivery when the state cannot be saved: sent, what
// is due could not be recorded, and every run would send it again. The
// meta_notify channels hear why instead — once while the state stays
// unsavable on this host: a marker in the temporary directory remembers it,
// since the state cannot. It returns the notices' results.
func holdBack(ctx context.Context, f *rules.File, store state.Store, step *lifecycle.Outcome, why error, now time.Time, opts Options, log *slog.Logger, scrub *scrubber, rep *Report) []Notification {
	held := 0
	for _, box := range step.Outbox {
		held += len(box.Items)
	}
	reason := scrub.string(why.Error())
	rep.Errors = append(rep.Errors, fmt.Sprintf("%d notifications held back: the state in %s cannot be saved, and what is not recorded would be sent again every run: %s", held, store, reason))
	log.Error("notifications held back: the state cannot be saved", "held", held, "state", store.String(), "error", reason)

	marker := heldMarker(store)
	if told, err := os.ReadFile(marker); err == nil {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the channels were told at %s that the state cannot be saved; not told again", told))
		return []Notification{}
	}
	spot := blindSpot("", store.String(), rules.BlindCause{Kind: rules.BlindState, Held: held, Error: reason}, scrub)
	alert := rules.Alert{Rule: lifecycle.MetaRule, Instance: spot.Instance, Level: rules.LevelGroup, Condition: rules.Blind,
		Severity: rules.Critical, Detail: spot.Reason, Cause: &spot.Cause}
	client := httpClient(opts)
	results := make([]Notification, 0, len(f.MetaNotify))
	told := false
	for _, name := range f.MetaNotify {
		ch, _ := f.Channel(name)
		msg := notify.Message{Time: now, Items: []notify.Item{{Kind: rules.KindFiring, Alert: alert, Since: now}}, Language: ch.Language, Location: ch.Location}
		n := Notification{Channel: ch.Name, Type: ch.Type, Alerts: 1, Kinds: map[rules.Kind]int{rules.KindFiring: 1}}
		if _, err := newNotifier(ch, client, opts.NotifyOptions).Notify(ctx, msg); err != nil {
			n.Error = scrub.string(err.Error())
			rep.Errors = append(rep.Errors, fmt.Sprintf("channel %s: %s", ch.Name, n.Error))
		} else {
			n.Sent, n.Accepted, told = true, 1, true
		}
		results = append(results, n)
	}
	if told {
		if err := os.WriteFile(marker, []byte(now.UTC().Format(time.RFC3339)), 0o600); err != nil {
			log.Warn("cannot remember that the channels were told; the next run tells them again", "error", err)
		}
	}
	return results
}

// heldMarker names the file that remembers, on this host, that the channels
// were told the state in store cannot be saved.
func heldMarker(store state.Store) string {
	sum := sha256.Sum256([]byte(store.String()))
	return filepath.Join(os.TempDir(), "backlog-alert-held-"+hex.EncodeToString(sum[:8]))
}

// forgetHeld is called once the state is saved again: a later failure is
// news again.
func forgetHeld(store state.Store) { _ = os.Remove(heldMarker(store)) }
