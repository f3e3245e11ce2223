// Package osstest is a fake Alibaba Cloud OSS endpoint, in the spirit of
// net/http/httptest: the real alibabacloud-oss-go-sdk-v2 client talks to it
// over 127.0.0.1 with path-style addressing (http://127.0.0.1:PORT/bucket/key).
// Any package's tests may use it.
//
// It serves GetObject and HeadObject (honouring If-Match and If-None-Match),
// PutObject and CopyObject (PUT with x-oss-copy-source: /bucket/key; both
// honour x-oss-forbid-overwrite: true with 409 FileAlreadyExists) and
// DeleteObject (204 whether or not the object existed), answers
// errors in OSS's XML shape with OSS's statuses and codes, and records every
// request. Every bucket exists. It checks that each request carries an
// Authorization header (V4 "OSS4-HMAC-SHA256 Credential=<id>/..." or V1
// "OSS <id>:<signature>") naming the expected AccessKey ID, and, after
// RequireToken, the STS token in x-oss-security-token; it does not verify the
// signature itself.
package osstest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc64"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The credentials the server accepts unless told otherwise
// (RequireAccessKeyID). Any secret is accepted: signatures are not verified.
const (
	AccessKeyID     = "LTAI5tOSSTestKeyID01"
	AccessKeySecret = "osstest-secret-do-not-print-0123456789"
)

// OSS error codes the server answers with.
const (
	CodeNoSuchKey            = "NoSuchKey"
	CodeAccessDenied         = "AccessDenied"
	CodeInvalidAccessKeyID   = "InvalidAccessKeyId"
	CodeInvalidSecurityToken = "InvalidSecurityToken"
	CodeFileAlreadyExists    = "FileAlreadyExists"
	CodePreconditionFailed   = "PreconditionFailed"
	CodeInvalidDigest        = "InvalidDigest"
	CodeInvalidArgument      = "InvalidArgument"
	CodeMethodNotAllowed     = "MethodNotAllowed"
	CodeNotImplemented       = "NotImplemented"
	CodeInternalError        = "InternalError"
)

// maxBody bounds what a PUT may upload.
const maxBody = 64 << 20

// Request is one request as the server received it.
type Request struct {
	Method string
	Bucket string
	Key    string // "" for a bucket-level request
	Query  url.Values
	Header http.Header
	Body   []byte // what a PUT sent
}

// Fault makes matching requests fail (or, with Status 0, only slow down).
// Empty Method, Bucket and Key match anything.
type Fault struct {
	Method string
	Bucket string
	Key    string
	// Status is the HTTP status of the error answer; 0 lets the request
	// proceed after Latency.
	Status int
	// Code and Message go into the XML error body; Code defaults to
	// InternalError for 5xx and AccessDenied otherwise.
	Code, Message string
	// Latency is waited before answering (cut short when the client gives up).
	Latency time.Duration
	// Times is how many requests the fault applies to; 0 means forever.
	Times int
}

type object struct {
	data        []byte
	contentType string
	modified    time.Time
}

type fault struct {
	Fault
	left int // < 0: forever
}

// Server is the fake endpoint. Its methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint, "http://127.0.0.1:PORT", for WithEndpoint.
	URL string

	srv *httptest.Server

	mu       sync.Mutex
	objects  map[string]map[string]object
	requests []Request
	faults   []*fault
	akID     string
	token    string
	ids      int
}

// NewServer starts a server on 127.0.0.1 expecting AccessKeyID and no STS
// token. Close it when done.
func NewServer() *Server {
	s := &Server{objects: map[string]map[string]object{}, akID: AccessKeyID}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// RequireAccessKeyID makes the server accept only requests signed with id.
func (s *Server) RequireAccessKeyID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.akID = id
}

// RequireToken makes every request need x-oss-security-token equal to token
// (403 InvalidSecurityToken otherwise); "" stops requiring one.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// Fail injects a fault. Faults apply in the order given, after the
// credentials are checked.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	left := f.Times
	if left <= 0 {
		left = -1
	}
	s.faults = append(s.faults, &fault{Fault: f, left: left})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// PutObject stores an object directly, as if uploaded earlier.
func (s *Server) PutObject(bucket, key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store(bucket, key, object{data: bytes.Clone(data), contentType: "application/octet-stream", modified: time.Now()})
}

// DeleteObject removes an object directly, as if deleted by someone else.
func (s *Server) DeleteObject(bucket, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects[bucket], key)
}

// Object returns a copy of an object's bytes.
func (s *Server) Object(bucket, key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[bucket][key]
	if !ok {
		return nil, false
	}
	return bytes.Clone(o.data), true
}

// ContentType returns the Content-Type an object was stored with.
func (s *Server) ContentType(bucket, key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[bucket][key]
	return o.contentType, ok
}

// Keys lists a bucket's object keys, sorted.
func (s *Server) Keys(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.objects[bucket]))
}

// Requests returns copies of the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = Request{
			Method: r.Method, Bucket: r.Bucket, Key: r.Key,
			Query: maps.Clone(r.Query), Header: r.Header.Clone(), Body: bytes.Clone(r.Body),
		}
	}
	return out
}

func (s *Server) store(bucket, key string, o object) {
	if s.objects[bucket] == nil {
		s.objects[bucket] = map[string]object{}
	}
	s.objects[bucket][key] = o
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	req := Request{Method: r.Method, Bucket: bucket, Key: key, Query: r.URL.Query(), Header: r.Header.Clone()}
	if r.Method == http.MethodPut {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return // the client went away
		}
		req.Body = body
	}

	s.mu.Lock()
	s.ids++
	rid := fmt.Sprintf("5F0STEST%016X", s.ids)
	s.requests = append(s.requests, req)
	akID, token := s.akID, s.token
	s.mu.Unlock()

	w.Header().Set("x-oss-request-id", rid)
	w.Header().Set("Server", "AliyunOSS")
	e := errorWriter{w: w, r: r, rid: rid}

	// Credentials.
	auth := r.Header.Get("Authorization")
	if auth == "" {
		e.write(http.StatusForbidden, CodeAccessDenied, "You have no right to access this object because of bucket acl.")
		return
	}
	id, ok := accessKeyID(auth)
	if !ok {
		e.write(http.StatusBadRequest, CodeInvalidArgument, "Authorization header is invalid.")
		return
	}
	if strings.HasPrefix(auth, "OSS4-HMAC-SHA256 ") &&
		(r.Header.Get("x-oss-date") == "" || r.Header.Get("x-oss-content-sha256") == "") {
		e.write(http.StatusBadRequest, CodeInvalidArgument, "x-oss-date and x-oss-content-sha256 are required with OSS4-HMAC-SHA256.")
		return
	}
	if id != akID {
		e.write(http.StatusForbidden, CodeInvalidAccessKeyID, "The OSS Access Key Id you provided does not exist in our records.",
			"OSSAccessKeyId", id)
		return
	}
	if token != "" && r.Header.Get("x-oss-security-token") != token {
		e.write(http.StatusForbidden, CodeInvalidSecurityToken, "The security token you provided is invalid.")
		return
	}

	// Injected faults.
	if f := s.takeFault(r.Method, bucket, key); f != nil {
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if f.Status != 0 {
			code := f.Code
			if code == "" {
				code = CodeAccessDenied
				if f.Status >= 500 {
					code = CodeInternalError
				}
			}
			msg := f.Message
			if msg == "" {
				msg = "Injected fault."
			}
			e.write(f.Status, code, msg)
			return
		}
	}

	switch {
	case bucket == "" || key == "":
		e.write(http.StatusNotImplemented, CodeNotImplemented, "osstest serves object operations only.")
		return
	case len(req.Query) > 0:
		e.write(http.StatusNotImplemented, CodeNotImplemented,
			fmt.Sprintf("osstest does not serve the subresources or parameters %v.", slices.Sorted(maps.Keys(req.Query))))
		return
	}

	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.get(w, r, e, bucket, key)
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.objects[bucket], key)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		if src := r.Header.Get("x-oss-copy-source"); src != "" {
			s.copy(w, e, bucket, key, src, r.Header)
		} else {
			s.put(w, e, bucket, key, req.Body, r.Header)
		}
	default:
		e.write(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "The specified method is not allowed against this resource.")
	}
}

func (s *Server) takeFault(method, bucket, key string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method != "" && !strings.EqualFold(f.Method, method)) ||
			(f.Bucket != "" && f.Bucket != bucket) || (f.Key != "" && f.Key != key) {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		out := f.Fault
		return &out
	}
	return nil
}

// accessKeyID extracts the key ID from a V4 or V1 Authorization header.
func accessKeyID(auth string) (string, bool) {
	if rest, ok := strings.CutPrefix(auth, "OSS4-HMAC-SHA256 "); ok {
		for part := range strings.SplitSeq(rest, ",") {
			if cred, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
				id, scope, ok := strings.Cut(cred, "/")
				return id, ok && id != "" && scope != ""
			}
		}
		return "", false
	}
	if rest, ok := strings.CutPrefix(auth, "OSS "); ok {
		id, sig, ok := strings.Cut(rest, ":")
		return id, ok && id != "" && sig != ""
	}
	return "", false
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, e errorWriter, bucket, key string) {
	s.mu.Lock()
	o, ok := s.objects[bucket][key]
	s.mu.Unlock()
	if !ok {
		e.write(http.StatusNotFound, CodeNoSuchKey, "The specified key does not exist.", "Key", key)
		return
	}
	// Like OSS, the ETag is the MD5 of the content (for a simple upload), so
	// it changes whenever an object is replaced by different bytes.
	tag := etag(o.data)
	if im := r.Header.Get("If-Match"); im != "" && !etagListed(im, tag) {
		e.write(http.StatusPreconditionFailed, CodePreconditionFailed, "At least one of the pre-conditions you specified did not hold.",
			"Condition", "If-Match")
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListed(inm, tag) {
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h := w.Header()
	h.Set("Content-Type", o.contentType)
	h.Set("Content-Length", strconv.Itoa(len(o.data)))
	h.Set("ETag", tag)
	h.Set("Last-Modified", o.modified.UTC().Format(http.TimeFormat))
	h.Set("x-oss-object-type", "Normal")
	h.Set("x-oss-storage-class", "Standard")
	h.Set("x-oss-hash-crc64ecma", crc(o.data))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(o.data)
	}
}

func (s *Server) put(w http.ResponseWriter, e errorWriter, bucket, key string, body []byte, h http.Header) {
	if len(body) > maxBody {
		e.write(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
		return
	}
	if md := h.Get("Content-MD5"); md != "" {
		sum := md5.Sum(body)
		if md != base64.StdEncoding.EncodeToString(sum[:]) {
			e.write(http.StatusBadRequest, CodeInvalidDigest, "The Content-MD5 you specified was invalid.")
			return
		}
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	s.mu.Lock()
	if _, exists := s.objects[bucket][key]; exists && strings.EqualFold(h.Get("x-oss-forbid-overwrite"), "true") {
		s.mu.Unlock()
		e.write(http.StatusConflict, CodeFileAlreadyExists, "The object you specified already exists and can not be overwritten.")
		return
	}
	s.store(bucket, key, object{data: body, contentType: ct, modified: time.Now()})
	s.mu.Unlock()
	w.Header().Set("ETag", etag(body))
	w.Header().Set("x-oss-hash-crc64ecma", crc(body))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) copy(w http.ResponseWriter, e errorWriter, bucket, key, source string, h http.Header) {
	src, err := url.PathUnescape(source)
	if err != nil || !strings.HasPrefix(src, "/") {
		e.write(http.StatusBadRequest, CodeInvalidArgument, "Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.")
		return
	}
	if i := strings.Index(src, "?"); i >= 0 {
		e.write(http.StatusNotImplemented, CodeNotImplemented, "osstest does not serve versioned copies.")
		return
	}
	srcBucket, srcKey, _ := strings.Cut(src[1:], "/")
	if srcBucket == "" || srcKey == "" {
		e.write(http.StatusBadRequest, CodeInvalidArgument, "Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.")
		return
	}
	s.mu.Lock()
	o, ok := s.objects[srcBucket][srcKey]
	if !ok {
		s.mu.Unlock()
		e.write(http.StatusNotFound, CodeNoSuchKey, "The specified key does not exist.", "Key", srcKey)
		return
	}
	if _, exists := s.objects[bucket][key]; exists && strings.EqualFold(h.Get("x-oss-forbid-overwrite"), "true") {
		s.mu.Unlock()
		e.write(http.StatusConflict, CodeFileAlreadyExists, "The object you specified already exists and can not be overwritten.")
		return
	}
	now := time.Now()
	if strings.EqualFold(h.Get("x-oss-metadata-directive"), "REPLACE") && h.Get("Content-Type") != "" {
		o.contentType = h.Get("Content-Type")
	}
	s.store(bucket, key, object{data: bytes.Clone(o.data), contentType: o.contentType, modified: now})
	s.mu.Unlock()

	body, _ := xml.Marshal(struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		ETag         string   `xml:"ETag"`
		LastModified string   `xml:"LastModified"`
	}{ETag: etag(o.data), LastModified: now.UTC().Format("2006-01-02T15:04:05.000Z")})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-oss-hash-crc64ecma", crc(o.data))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

// etagListed reports whether an If-Match or If-None-Match value (a
// comma-separated list of quoted ETags, or "*") names tag. ETags compare
// without regard to case or quotes.
func etagListed(header, tag string) bool {
	want := strings.Trim(tag, `"`)
	for v := range strings.SplitSeq(header, ",") {
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(v, "W/")
		if v == "*" || strings.EqualFold(strings.Trim(v, `"`), want) {
			return true
		}
	}
	return false
}

func etag(data []byte) string {
	sum := md5.Sum(data)
	return `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
}

var crcTable = crc64.MakeTable(crc64.ECMA)

func crc(data []byte) string { return strconv.FormatUint(crc64.Checksum(data, crcTable), 10) }

// errorWriter answers in OSS's XML error format. A HEAD answer has no body,
// so, like OSS, it carries the XML base64-encoded in x-oss-err.
type errorWriter struct {
	w   http.ResponseWriter
	r   *http.Request
	rid string
}

// write sends the error; extra holds further element name/value pairs.
func (e errorWriter) write(status int, code, message string, extra ...string) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<Error>\n")
	elem := func(name, value string) {
		b.WriteString("  <" + name + ">")
		_ = xml.EscapeText(&b, []byte(value))
		b.WriteString("</" + name + ">\n")
	}
	elem("Code", code)
	elem("Message", message)
	elem("RequestId", e.rid)
	elem("HostId", e.r.Host)
	for i := 0; i+1 < len(extra); i += 2 {
		elem(extra[i], extra[i+1])
	}
	b.WriteString("</Error>\n")

	h := e.w.Header()
	h.Set("Content-Type", "application/xml")
	if e.r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString(b.Bytes()))
		e.w.WriteHeader(status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	e.w.WriteHeader(status)
	_, _ = e.w.Write(b.Bytes())
}
