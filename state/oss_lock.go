package state

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// The lock of oss://bucket/key is the object "<key>.lock". Taking over an
// expired one first creates "<key>.lock.takeover-<its ETag>", create-only, so
// that of the runs that found the same expired lock exactly one deletes it.
const (
	lockSuffix     = ".lock"
	takeoverSuffix = ".takeover-"
	maxETagInKey   = 64
	maxLockObject  = 4096
)

// ossLockPoll is how often Lock looks again at a lock held by another run.
var ossLockPoll = 500 * time.Millisecond

// ossLockInfo is the lock object's body. Nonce makes every lock object's
// bytes, hence its ETag (the MD5 of the bytes on OSS), unique.
type ossLockInfo struct {
	Owner   string    `json:"owner"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
	Nonce   string    `json:"nonce"`
}

func (i ossLockInfo) describe() string {
	owner := i.Owner
	if owner == "" {
		owner = "an unknown owner"
	}
	if !i.Since.IsZero() {
		owner += ", since " + i.Since.UTC().Format(time.RFC3339)
	}
	return owner
}

func (s *ossStore) lockKey() string { return s.key + lockSuffix }

// Lock creates the lock object create-only (x-oss-forbid-overwrite). While
// another run's unexpired lock object exists it polls until wait is over; an
// expired one it deletes (one taker only, see takeOver) and creates its own.
func (s *ossStore) Lock(ctx context.Context, owner string, wait time.Duration, until time.Time) (Lease, error) {
	if err := s.ready(ctx, "lock"); err != nil {
		return nil, err
	}
	if until.IsZero() {
		return nil, fmt.Errorf("state: %s: lock: no deadline for the run", s)
	}
	owner = lockOwner(owner)
	lockKey := s.lockKey()
	deadline := time.Now().Add(wait)
	tookOver := ""
	for {
		info := ossLockInfo{Owner: owner, Since: time.Now().UTC().Truncate(time.Second),
			Expires: until.Add(LeaseMargin).UTC(), Nonce: nonce()}
		body, err := json.Marshal(info)
		if err != nil {
			return nil, err
		}
		res, err := s.client.PutObject(ctx, &oss.PutObjectRequest{
			Bucket:          &s.bucket,
			Key:             &lockKey,
			ContentType:     oss.Ptr(contentType),
			ContentLength:   oss.Ptr(int64(len(body))),
			ForbidOverwrite: oss.Ptr("true"),
			Body:            bytes.NewReader(body),
		})
		if err == nil {
			if oss.ToString(res.ETag) == "" {
				return nil, fmt.Errorf("state: %s: lock: PutObject returned no ETag", s)
			}
			return &ossLease{store: s, key: lockKey, etag: oss.ToString(res.ETag), expires: info.Expires, tookOver: tookOver}, nil
		}
		if serviceCode(err) != "FileAlreadyExists" {
			return nil, s.wrap("PutObject", err)
		}

		held, etag, err := s.readLock(ctx, lockKey)
		if err != nil {
			return nil, err
		}
		if etag == "" {
			continue // released meanwhile
		}
		if held.Nonce == info.Nonce {
			// Our own PutObject, applied, whose answer was lost and which the
			// SDK retried.
			return &ossLease{store: s, key: lockKey, etag: etag, expires: info.Expires, tookOver: tookOver}, nil
		}
		if !time.Now().Before(held.Expires) {
			won, err := s.takeOver(ctx, lockKey, etag)
			if err != nil {
				return nil, err
			}
			if won {
				tookOver = held.describe() + ", expired " + held.Expires.UTC().Format(time.RFC3339)
				continue
			}
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("state: %s: lock: %w", s, &LockedError{Owner: held.Owner, Since: held.Since, Expires: held.Expires})
		}
		// Jitter keeps runs that wait for the same lock out of step.
		pause := ossLockPoll/2 + rand.N(ossLockPoll)
		if err := sleepCtx(ctx, min(pause, time.Until(deadline))); err != nil {
			return nil, fmt.Errorf("state: %s: lock: %w", s, err)
		}
	}
}

// readLock reads the lock object: its holder and ETag, or "" for the ETag if
// there is none. A lock object that is not one of ours (garbled, too large)
// counts as expired.
func (s *ossStore) readLock(ctx context.Context, lockKey string) (ossLockInfo, string, error) {
	res, err := s.client.GetObject(ctx, &oss.GetObjectRequest{Bucket: &s.bucket, Key: &lockKey})
	if err != nil {
		if serviceCode(err) == "NoSuchKey" {
			return ossLockInfo{}, "", nil
		}
		return ossLockInfo{}, "", s.wrap("GetObject", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxLockObject+1))
	if err != nil {
		return ossLockInfo{}, "", s.wrap("GetObject", fmt.Errorf("reading the lock: %w", err))
	}
	var info ossLockInfo
	if len(data) > maxLockObject || json.Unmarshal(data, &info) != nil {
		info = ossLockInfo{Owner: "an unreadable lock object " + lockKey}
	}
	etag := oss.ToString(res.ETag)
	if etag == "" {
		return ossLockInfo{}, "", fmt.Errorf("state: %s: lock: GetObject returned no ETag", s)
	}
	return info, etag, nil
}

// takeOver deletes the expired lock object whose ETag is etag, if this run is
// the one to do so: the one that creates the takeover marker for that ETag.
// The others get FileAlreadyExists and false. The winner checks that the lock
// object is still the expired one before deleting it, so a marker created late
// (after the winner removed it) deletes nothing.
func (s *ossStore) takeOver(ctx context.Context, lockKey, etag string) (bool, error) {
	marker := lockKey + takeoverSuffix + etagInKey(etag)
	_, err := s.client.PutObject(ctx, &oss.PutObjectRequest{
		Bucket:          &s.bucket,
		Key:             &marker,
		ContentLength:   oss.Ptr(int64(0)),
		ForbidOverwrite: oss.Ptr("true"),
		Body:            bytes.NewReader(nil),
	})
	switch {
	case serviceCode(err) == "FileAlreadyExists":
		return false, nil
	case err != nil:
		return false, s.wrap("PutObject", err)
	}
	removeMarker := func() {
		_, _ = s.client.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: &s.bucket, Key: &marker})
	}
	_, err = s.client.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: &s.bucket, Key: &lockKey, IfMatch: &etag})
	switch conditionCode(err) {
	case "PreconditionFailed", "NoSuchKey":
		removeMarker()
		return false, nil
	case "":
		if err != nil {
			return false, s.wrap("HeadObject", err)
		}
	default:
		return false, s.wrap("HeadObject", err)
	}
	if _, err := s.client.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: &s.bucket, Key: &lockKey}); err != nil {
		return false, s.wrap("DeleteObject", err)
	}
	// The expired lock object is gone for good (its nonce makes its ETag
	// unique): the marker has served.
	removeMarker()
	return true, nil
}

// conditionCode is the OSS error code of a conditional read, from the HTTP
// status when the answer carries no code (a HEAD answer has no body).
func conditionCode(err error) string {
	var se *oss.ServiceError
	if !errors.As(err, &se) {
		return ""
	}
	switch {
	case se.Code != "":
		return se.Code
	case se.StatusCode == 412:
		return "PreconditionFailed"
	case se.StatusCode == 404:
		return "NoSuchKey"
	}
	return ""
}

// etagInKey turns an ETag into key characters.
func etagInKey(etag string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(etag) {
		if (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || r == '-' {
			b.WriteRune(r)
		}
	}
	out := b.String()
	if len(out) > maxETagInKey {
		out = out[:maxETagInKey]
	}
	return out
}

func nonce() string {
	b := make([]byte, 8)
	_, _ = crand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// ossLease is a lock object this run created, known by its ETag.
type ossLease struct {
	store    *ossStore
	key      string
	etag     string
	expires  time.Time
	tookOver string

	mu       sync.Mutex
	released bool
}

func (l *ossLease) TookOver() string { return l.tookOver }

// Held reads the lock object with If-Match on its ETag: 412 or 404 means
// another run took it over (or it was removed). A lease past its expiry is no
// longer held either, since another run may take it over at any moment.
func (l *ossLease) Held(ctx context.Context) error {
	s := l.store
	l.mu.Lock()
	released := l.released
	l.mu.Unlock()
	if released {
		return fmt.Errorf("state: %s: lock: %w: released", s, ErrLeaseLost)
	}
	if err := s.ready(ctx, "lock"); err != nil {
		return err
	}
	if now := time.Now(); !now.Before(l.expires) {
		return fmt.Errorf("state: %s: lock: %w: expired at %s", s, ErrLeaseLost, l.expires.Format(time.RFC3339))
	}
	res, err := s.client.GetObject(ctx, &oss.GetObjectRequest{Bucket: &s.bucket, Key: &l.key, IfMatch: &l.etag})
	switch conditionCode(err) {
	case "PreconditionFailed":
		return fmt.Errorf("state: %s: lock: %w: another run took it over", s, ErrLeaseLost)
	case "NoSuchKey":
		return fmt.Errorf("state: %s: lock: %w: the lock object was removed", s, ErrLeaseLost)
	}
	if err != nil {
		return s.wrap("GetObject", err)
	}
	_ = res.Body.Close()
	return nil
}

// Release deletes the lock object if it is still ours (HeadObject with
// If-Match first: OSS has no conditional delete). A lease already taken over
// gives an error wrapping ErrLeaseLost and deletes nothing.
func (l *ossLease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	s := l.store
	if err := s.ready(ctx, "release lock"); err != nil {
		return err
	}
	_, err := s.client.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: &s.bucket, Key: &l.key, IfMatch: &l.etag})
	switch conditionCode(err) {
	case "PreconditionFailed":
		l.released = true
		return fmt.Errorf("state: %s: release lock: %w: another run took it over", s, ErrLeaseLost)
	case "NoSuchKey":
		l.released = true
		return nil
	}
	if err != nil {
		return s.wrap("HeadObject", err)
	}
	if _, err := s.client.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: &s.bucket, Key: &l.key}); err != nil {
		return s.wrap("DeleteObject", err)
	}
	l.released = true
	return nil
}
