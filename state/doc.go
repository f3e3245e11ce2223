// Package state keeps the small document that carries alerts across runs, in
// a local file or in an OSS object.
//
// Every run of backlog-alert is a fresh process (CLI, cron, Function Compute,
// Lambda), so whatever must survive from one run to the next is written to a
// Store. The store moves bytes only: encoding, decoding and versioning of the
// document belong to its caller.
//
// Locations, as given to Open:
//
//	/var/lib/backlog-alert/state.json        a plain path (relative paths are made absolute)
//	file:///var/lib/backlog-alert/state.json the same, as a URL
//	oss://bucket/path/state.json             an OSS object, in Options.Region
//	oss://bucket/path/state.json?region=cn-shanghai
//
// A file is replaced atomically (temporary file, fsync, rename, fsync of the
// directory) and kept with mode 0600 in a directory created with mode 0700.
// An OSS object is written with one PutObject, which OSS applies atomically;
// writes are last-writer-wins.
//
// Runs that may overlap take the state's lease first with Store.Lock and save
// only while Lease.Held: a file store holds flock(2) on "<path>.lock" (Unix
// only; the kernel frees it when the holder dies); an OSS store creates
// "<key>.lock" create-only (x-oss-forbid-overwrite), holding the owner and an
// expiry LeaseMargin after the run's deadline, past which another run takes
// it over.
//
// No error, String or fmt output of this package contains an AccessKey
// secret, an STS token, an AccessKey ID or a request signature.
package state
