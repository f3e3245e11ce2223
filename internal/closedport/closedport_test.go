package closedport_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/backlog-alert/backlog-alert/internal/closedport"
)

func TestRefusedAndReserved(t *testing.T) {
	u := closedport.URL(t)
	_, err := http.Post(u, "text/plain", strings.NewReader("x"))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("POST %s: %v, want connection refused", u, err)
	}
	if l, err := net.Listen("tcp", strings.TrimPrefix(u, "http://")); err == nil {
		l.Close()
		t.Fatalf("another listener could take %s", u)
	}
}
