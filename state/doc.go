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
// writes are last-writer-wins, so keep a single writer (one instance, a timer
// interval longer than the function's timeout).
//
// No error, String or fmt output of this package contains an AccessKey
// secret, an STS token, an AccessKey ID or a request signature.
package state
