// Package closedport gives tests an address where nothing listens and
// nothing will for the test's lifetime.
//
// Closing an httptest server to get "connection refused" is not enough: the
// kernel may hand its port to the next listener of any process on the
// machine (go test runs packages in parallel), and a retried request then
// lands in another test's fake, which counts it.
package closedport

import (
	"strconv"
	"syscall"
	"testing"
)

// URL returns "http://127.0.0.1:PORT" for a port bound to a socket that
// never listens, so connections to it are refused, and that no other
// socket can bind until the test ends.
func URL(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("closedport: socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	// No SO_REUSEADDR: nobody else may bind the port while we hold it.
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("closedport: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("closedport: getsockname: %v", err)
	}
	return "http://127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
}
