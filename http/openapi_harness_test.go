package http_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Every server the harness starts (harness_test.go) serves through a
// recording middleware: each request and its answer are validated against
// the embedded OpenAPI document, so every conformance, flow and edge test
// doubles as a contract test. Failures fail the test that caused them;
// TestMain reports documented operations no test exercised.

// contractHost is the host validation requests are rewritten to, so one
// router serves every test server whatever its port.
const contractHost = "weir.contract"

// contractBodyCap bounds what the recorder buffers of a request or response
// body: longer bodies (soak runs, streamed outputs) are checked for status
// and content type only.
const contractBodyCap = 4 << 20

func init() {
	// Media types weir serves or accepts that kin-openapi has no decoder
	// for: all are text as far as the schemas go.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("avro/binary", openapi3filter.FileBodyDecoder)
}

// contractValidator is the document and its router, shared by all tests.
type contractValidator struct {
	doc    *openapi3.T
	router routers.Router
}

var sharedContract = sync.OnceValues(func() (*contractValidator, error) {
	doc, err := parseOpenAPI()
	if err != nil {
		return nil, err
	}
	doc.Servers = openapi3.Servers{{URL: "http://" + contractHost}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi router: %w", err)
	}
	return &contractValidator{doc: doc, router: router}, nil
})

// exchange is one recorded request and its answer.
type exchange struct {
	req *http.Request
	// reqBody is complete unless reqPartial: the handler stopped reading
	// early, or the body passed contractBodyCap.
	reqBody    []byte
	reqPartial bool
	status     int
	header     http.Header
	respBody   []byte
	// respPartial: the body passed contractBodyCap; only the status and
	// content type are checked.
	respPartial bool
}

func (e *exchange) String() string {
	return fmt.Sprintf("%s %s → %d", e.req.Method, e.req.URL.RequestURI(), e.status)
}

// check validates one exchange against the document. It returns the
// operation the exchange matched ("" when none) and what does not match.
func (v *contractValidator) check(e *exchange) (string, error) {
	ctx := context.Background()
	req := e.req.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(e.reqBody))
	normalizeContractRequest(req)
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		// A method or path the document does not list must have been
		// refused; an undocumented success means the document drifted.
		if e.status < 400 {
			return "", fmt.Errorf("not in the OpenAPI document (%v)", err)
		}
		return "", nil
	}
	op := route.Operation.OperationID
	base := openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	// Requests refused on purpose (4xx, 5xx) are not valid by design;
	// their answers still must match the document.
	if e.status < 400 {
		o := base
		o.ExcludeRequestBody = e.reqPartial
		in.Options = &o
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return op, fmt.Errorf("request does not match the document: %v", err)
		}
	}
	o := base
	o.ExcludeResponseBody = e.respPartial
	in.Options = &o
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 e.status,
		Header:                 e.header,
		Body:                   io.NopCloser(bytes.NewReader(e.respBody)),
		Options:                &o,
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return op, fmt.Errorf("response does not match the document: %v\nbody: %.300q", err, e.respBody)
	}
	if r := route.Operation.Responses.Status(e.status); r != nil && r.Value != nil && len(r.Value.Content) == 0 && req.Method != http.MethodHead {
		// kin-openapi accepts any body where the document lists none; the
		// families' empty answers (E200, CDAP's empty 200, PolarStreams'
		// 204) carry no Content-Type either.
		if len(e.respBody) > 0 {
			return op, fmt.Errorf("response has a body (%.100q) where the document says none", e.respBody)
		}
		if ct := e.header.Get("Content-Type"); ct != "" {
			return op, fmt.Errorf("response has Content-Type %q where the document lists no content", ct)
		}
	}
	if e.respPartial && req.Method != http.MethodHead {
		// ExcludeResponseBody skips the content type check too.
		if r := route.Operation.Responses.Status(e.status); r != nil && r.Value != nil && len(r.Value.Content) > 0 {
			if ct := e.header.Get("Content-Type"); r.Value.Content.Get(ct) == nil {
				return op, fmt.Errorf("response content type %q is not documented for %d", ct, e.status)
			}
		}
	}
	return op, nil
}

// contractProcessRoutes answer every method as GET (the document's
// info.description says so).
var contractProcessRoutes = map[string]bool{"/ping": true, "/version": true, "/metrics": true, "/ready": true}

// normalizeContractRequest applies the equivalences the document states in
// its description rather than in paths: process routes answer any method as
// GET, and CDAP drops one trailing slash before matching.
func normalizeContractRequest(req *http.Request) {
	p := req.URL.Path
	if contractProcessRoutes[p] {
		req.Method = http.MethodGet
	}
	if strings.HasPrefix(p, "/v3/") && strings.HasSuffix(p, "/") && !strings.HasSuffix(p, "//") {
		req.URL.Path = strings.TrimSuffix(p, "/")
		req.URL.RawPath = strings.TrimSuffix(req.URL.RawPath, "/")
	}
}

// uncoveredOperations lists the documented operations covered[opID] never
// counted, as "METHOD /path (operationId)", sorted.
func uncoveredOperations(doc *openapi3.T, covered map[string]int) []string {
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if covered[op.OperationID] == 0 {
				missing = append(missing, fmt.Sprintf("%s %s (%s)", method, path, op.OperationID))
			}
		}
	}
	sort.Strings(missing)
	return missing
}

// contractTotals accumulates over every test of the package for TestMain.
var contractTotals = struct {
	mu        sync.Mutex
	exchanges int
	// unrouted are refusals of paths or methods the document does not
	// list; partial are exchanges with a body too long (or, for requests,
	// not read to the end) to validate.
	unrouted, partial int
	covered           map[string]int
}{covered: map[string]int{}}

// contractRecorder validates the exchanges of one test's server (across
// restarts) and keeps the failures until the test's cleanup reports them.
type contractRecorder struct {
	v       *contractValidator
	loadErr error
	// local keeps the exchanges out of contractTotals (the recorder's own
	// tests serve fake handlers, which must not count as coverage).
	local bool

	mu        sync.Mutex
	wg        sync.WaitGroup
	closed    bool
	exchanges int
	covered   map[string]int
	failures  []string
}

func newContractRecorder() *contractRecorder {
	v, err := sharedContract()
	return &contractRecorder{v: v, loadErr: err, covered: map[string]int{}}
}

// wrap is the Options.Middleware of harness servers.
func (c *contractRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The handler may rewrite the request (gin, stream endpoints);
		// validate what the client sent.
		req := r.Clone(context.Background())
		req.URL.Scheme, req.URL.Host, req.Host = "http", contractHost, contractHost
		body := &teeBody{rc: r.Body}
		// The handler gets a shallow copy: net/http looks at the type of
		// its own request's Body after the handler to decide between
		// draining the rest and closing the connection, and must still see
		// its own.
		hr := r.WithContext(r.Context())
		if r.Body != nil && r.Body != http.NoBody {
			hr.Body = body
		} else {
			body.eof = true
		}
		rw := &recordingWriter{ResponseWriter: w}
		h.ServeHTTP(rw, hr)
		if rw.hijacked {
			return // a protocol switch: nothing HTTP to validate
		}
		if r.Context().Err() != nil {
			// The client went away (e.g. its own timeout during a long
			// poll): no answer reached anyone; weir logs such requests as
			// 499, a status no client sees.
			return
		}
		e := &exchange{
			req:         req,
			reqBody:     body.buf.Bytes(),
			reqPartial:  !body.eof || body.over,
			status:      rw.status,
			header:      rw.sent,
			respBody:    rw.buf.Bytes(),
			respPartial: rw.over,
		}
		if e.status == 0 {
			e.status = http.StatusOK
		}
		if e.header == nil {
			e.header = rw.Header().Clone()
		}
		if e.header.Get("Content-Type") == "" && rw.wrote && e.status != http.StatusNoContent && e.status != http.StatusNotModified {
			// net/http sniffs a type for the wire without touching the
			// handler's header map; see what the client saw.
			e.header.Set("Content-Type", http.DetectContentType(e.respBody))
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.wg.Add(1)
		c.mu.Unlock()
		// Validate off the request path so the client is not held up.
		go func() {
			defer c.wg.Done()
			c.record(e)
		}()
	})
}

func (c *contractRecorder) record(e *exchange) {
	var op string
	err := c.loadErr
	if err == nil {
		op, err = c.v.check(e)
	}
	c.mu.Lock()
	c.exchanges++
	if op != "" {
		c.covered[op]++
	}
	if err != nil {
		c.failures = append(c.failures, fmt.Sprintf("%s: %v", e, err))
	}
	c.mu.Unlock()
	if c.local {
		return
	}
	contractTotals.mu.Lock()
	contractTotals.exchanges++
	if op != "" {
		contractTotals.covered[op]++
	} else if err == nil {
		contractTotals.unrouted++
	}
	if (e.reqPartial && e.status < 400) || e.respPartial {
		contractTotals.partial++
	}
	contractTotals.mu.Unlock()
}

// wait lets validations under way finish (call after the server stopped).
func (c *contractRecorder) wait() { c.wg.Wait() }

// coverage is a copy of the operations this server's exchanges matched.
func (c *contractRecorder) coverage() (exchanges int, covered map[string]int) {
	c.wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	covered = make(map[string]int, len(c.covered))
	for k, n := range c.covered {
		covered[k] = n
	}
	return c.exchanges, covered
}

// report fails t with every exchange that did not match the document; later
// exchanges (a connection outliving the test) are ignored.
func (c *contractRecorder) report(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	const shown = 20
	for i, f := range c.failures {
		if i == shown {
			t.Errorf("openapi contract: %d more exchanges do not match the document", len(c.failures)-shown)
			break
		}
		t.Errorf("openapi contract: %s", f)
	}
}

// teeBody keeps a copy of what the handler reads of the request body.
type teeBody struct {
	rc   io.ReadCloser
	buf  bytes.Buffer
	eof  bool
	over bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 && !b.over {
		if b.buf.Len()+n > contractBodyCap {
			b.over = true
			b.buf = bytes.Buffer{}
		} else {
			b.buf.Write(p[:n])
		}
	}
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

func (b *teeBody) Close() error { return b.rc.Close() }

// recordingWriter keeps the status and (up to contractBodyCap) the body,
// and passes through what gin and stream endpoints need: Flush, Hijack,
// CloseNotify and Unwrap for http.ResponseController.
type recordingWriter struct {
	http.ResponseWriter
	status int
	// sent is the header as it went out (with the status line); what a
	// handler sets afterwards never reaches the client.
	sent     http.Header
	wrote    bool
	hijacked bool
	over     bool
	buf      bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		w.sent = w.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.sent = w.Header().Clone()
	}
	if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		// net/http sends no body with these statuses.
		return w.ResponseWriter.Write(p)
	}
	if len(p) > 0 {
		w.wrote = true
	}
	if !w.over {
		if w.buf.Len()+len(p) > contractBodyCap {
			w.over = true
			w.buf = bytes.Buffer{}
		} else {
			w.buf.Write(p)
		}
	}
	return w.ResponseWriter.Write(p)
}

func (w *recordingWriter) Flush() {
	if w.status == 0 {
		// A flush sends the header with 200, as a first Write does.
		w.status = http.StatusOK
		w.sent = w.Header().Clone()
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	conn, rw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, rw, err
}

// CloseNotify is what gin's writer asserts for; the deprecated interface is
// kept because gin calls it unconditionally.
func (w *recordingWriter) CloseNotify() <-chan bool {
	if cn, ok := w.ResponseWriter.(http.CloseNotifier); ok { //nolint:staticcheck // gin needs it
		return cn.CloseNotify()
	}
	return make(chan bool)
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestMain reports, after a full run of the package, the documented
// operations that no test exercised: with a -run or -skip filter most are
// expected to be missing, so only the count is logged.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		code = contractCoverageReport()
	}
	os.Exit(code)
}

func contractCoverageReport() int {
	v, err := sharedContract()
	if err != nil {
		fmt.Fprintf(os.Stderr, "openapi contract: %v\n", err)
		return 1
	}
	contractTotals.mu.Lock()
	defer contractTotals.mu.Unlock()
	missing := uncoveredOperations(v.doc, contractTotals.covered)
	ops := 0
	for _, item := range v.doc.Paths.Map() {
		ops += len(item.Operations())
	}
	filtered := flagValue("test.run") != "" || flagValue("test.skip") != ""
	if testing.Verbose() || !filtered {
		fmt.Printf("openapi contract: validated %d exchanges (%d refusals of undocumented paths or methods, %d with a body not validated); %d of %d documented operations exercised\n",
			contractTotals.exchanges, contractTotals.unrouted, contractTotals.partial, ops-len(missing), ops)
	}
	if filtered || len(missing) == 0 {
		return 0
	}
	fmt.Fprintf(os.Stderr, "openapi contract: documented operations no test exercised:\n  %s\n", strings.Join(missing, "\n  "))
	return 1
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}
