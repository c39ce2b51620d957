package chroma

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/units"
)

// defaultMaxResponseBytes bounds one answer read from Chroma. chroma-go reads
// a whole response into memory before decoding it, and a document's text has
// no size limit of its own, so without this a vector_get of 1,000 large
// documents would hold them all at once; with it, a call stops reading at the
// bound and says what to ask for instead.
const defaultMaxResponseBytes = 64 << 20

// errResponseTooLarge ends the reading of an answer over the bound.
var errResponseTooLarge = errors.New("chroma: the answer is over the byte limit")

// overLimit marks, in a request's context, that its answer was cut at the
// bound: chroma-go swallows the body's read error (it decodes an empty
// body instead), so the store learns it here.
type overLimit struct{ tripped atomic.Bool }

type overLimitKey struct{}

func withOverLimit(ctx context.Context) (context.Context, *overLimit) {
	o := &overLimit{}
	return context.WithValue(ctx, overLimitKey{}, o), o
}

func markOverLimit(ctx context.Context) {
	if o, ok := ctx.Value(overLimitKey{}).(*overLimit); ok {
		o.tripped.Store(true)
	}
}

// limitedTransport refuses an answer larger than max while it is read: at
// once when its Content-Length says so, else when the body passes max.
type limitedTransport struct {
	rt  http.RoundTripper
	max int64
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.ContentLength > t.max {
		_ = resp.Body.Close() // unread: the connection is closed, not drained
		markOverLimit(req.Context())
		return nil, errResponseTooLarge
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, ctx: req.Context()}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
	ctx  context.Context
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly max bytes from a longer one.
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n == 0 {
			return 0, err
		}
		markOverLimit(b.ctx)
		return 0, errResponseTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// tooLarge is the caller's error for an answer cut at the bound.
func (s *Store) tooLarge(what string) *Error {
	return &Error{Kind: KindInvalid, Msg: fmt.Sprintf(
		"the answer while %s is larger than %s, the most one call may read; ask for less: a smaller limit or n_results, "+
			"a narrower where, or fewer ids", what, units.Bytes(s.maxResponseBytes()))}
}

func (s *Store) maxResponseBytes() int64 {
	if s.opts.maxResponseBytes > 0 {
		return s.opts.maxResponseBytes
	}
	return defaultMaxResponseBytes
}
