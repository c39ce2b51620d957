package neo4j

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"time"
	"unicode/utf8"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/units"
)

// Results are bounded while they stream: records are read one at a time
// (a fetch size of one more than the row cap, so the server never sends
// rows that would be thrown away), each record's JSON size is estimated from
// the driver's values before anything is converted or encoded, and reading
// stops at the first record that does not fit. A read transaction that
// stopped early is aborted rather than drained, so no further record is read.
//
// What this cannot bound: the driver decodes a whole record before handing it
// over (Bolt sends a record as one message; neo4j-go-driver v5 has no maximum
// message size, no custom dialer and no streaming decoder), so one huge record
// costs its decoded size once. Raw Cypher, the only way to ask for such a
// record, therefore runs one statement at a time per project (rawGate), and a
// read that met a record that large hands the memory back to the OS at once.

// bigRead is the estimated size of one record above which, once the call is
// over, the memory it took is given back to the OS (debug.FreeOSMemory): the
// Go heap would otherwise keep it, and the process's RSS with it.
const bigRead = 16 << 20

// errStopReading is returned by a read transaction's work when it stopped at a
// cap: the transaction is aborted (its context cancelled, which closes the
// connection instead of reading the rest) and what was read is kept.
var errStopReading = errors.New("stopped reading at the cap")

// sizer estimates the JSON size (as jsonValue and encoding/json would write
// it) of values the driver returned, without converting or encoding them. It
// stops counting once the total passes limit: then over is set.
type sizer struct {
	n, limit int
	over     bool
}

func (z *sizer) add(n int) {
	z.n += n
	if z.n > z.limit {
		z.over = true
	}
}

// str counts a JSON string: quotes, and escapes for control characters, the
// characters encoding/json escapes for HTML and invalid UTF-8.
func (z *sizer) str(s string) {
	n := len(s) + 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c < 0x20, c == '<', c == '>', c == '&':
				n += 5
			case c == '"', c == '\\':
				n++
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			n += 5 // \ufffd
		} else if r == '\u2028' || r == '\u2029' {
			n += 3
		}
		i += w
	}
	z.add(n)
}

func (z *sizer) value(v any, depth int) {
	if z.over || depth > 64 {
		return
	}
	switch x := v.(type) {
	case nil:
		z.add(4)
	case bool:
		z.add(5)
	case string:
		z.str(x)
	case int64:
		var b [24]byte
		z.add(len(strconv.AppendInt(b[:0], x, 10)))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			z.add(11)
			return
		}
		var b [32]byte
		z.add(len(strconv.AppendFloat(b[:0], x, 'g', -1, 64)))
	case []byte:
		z.add((len(x)+2)/3*4 + 2)
	case []any:
		z.add(2 + max(len(x)-1, 0))
		for _, e := range x {
			if z.over {
				return
			}
			z.value(e, depth+1)
		}
	case map[string]any:
		z.props(x, depth)
	case dbtype.Node:
		z.add(len(`{"labels":[],"properties":}`) + max(len(x.Labels)-1, 0))
		for _, l := range x.Labels {
			z.str(l)
		}
		z.props(x.Props, depth)
	case dbtype.Relationship:
		z.add(len(`{"properties":,"type":}`))
		z.str(x.Type)
		z.props(x.Props, depth)
	case dbtype.Path:
		z.add(len(`{"nodes":[],"relationships":[]}`) + max(len(x.Nodes)-1, 0) + max(len(x.Relationships)-1, 0))
		for _, n := range x.Nodes {
			z.value(n, depth+1)
		}
		for _, r := range x.Relationships {
			z.value(r, depth+1)
		}
	case []string:
		z.add(2 + max(len(x)-1, 0))
		for _, e := range x {
			z.str(e)
		}
	case []int64:
		z.add(2 + max(len(x)-1, 0) + 20*len(x))
	case []float64:
		z.add(2 + max(len(x)-1, 0) + 24*len(x))
	case []bool:
		z.add(2 + 6*len(x))
	case *dbtype.InvalidValue:
		z.add(len(`{"invalid":}`))
		z.str(x.Message)
	case time.Time:
		z.add(len(time.RFC3339Nano) + 8)
	case dbtype.Point2D, dbtype.Point3D:
		z.add(96)
	case fmt.Stringer: // the other temporal values, written as their String
		z.add(len(x.String()) + 2)
	default:
		z.add(len(fmt.Sprint(v)) + 2)
	}
}

// props counts an object of properties (the store's own are left out, as
// publicProps does).
func (z *sizer) props(m map[string]any, depth int) {
	z.add(2 + max(len(m)-1, 0))
	for k, e := range m {
		if z.over {
			return
		}
		if internalKeys[k] {
			continue
		}
		z.str(k)
		z.add(1)
		z.value(e, depth+1)
	}
}

// recordSize estimates the JSON size of a record as a row (an object of its
// columns), counting up to limit (then over is true).
func recordSize(rec *driver.Record, limit int) (n int, over bool) {
	z := sizer{limit: limit}
	z.add(2 + max(len(rec.Keys)-1, 0))
	for i, k := range rec.Keys {
		if z.over || i >= len(rec.Values) {
			break
		}
		z.str(k)
		z.add(1)
		z.value(rec.Values[i], 0)
	}
	return z.n, z.over
}

// reader reads a result's records one at a time within a byte budget.
type reader struct {
	left int  // bytes of JSON still allowed
	big  bool // a record was at least bigRead: give memory back afterwards
}

// next returns the next record that fits in the budget, with its estimated
// size. At the end of the result it returns nil, false; at a record that does
// not fit (its size is then > left), nil, true.
func (r *reader) next(ctx context.Context, res driver.ResultWithContext) (rec *driver.Record, n int, stop bool) {
	if !res.Next(ctx) {
		return nil, 0, false
	}
	rec = res.Record()
	n, over := recordSize(rec, max(r.left, bigRead))
	if n >= bigRead {
		r.big = true
	}
	if over || n > r.left {
		return nil, n, true
	}
	r.left -= n
	return rec, n, false
}

// release gives memory back to the OS after a read that met a big record:
// the decoded record is garbage by now, but the Go heap would keep its pages.
func (r *reader) release() {
	if r.big {
		debug.FreeOSMemory()
	}
}

// tooLarge is the error for a first row that alone exceeds the byte cap.
func (s *Store) tooLarge(tool string, columns []string) *Error {
	return &Error{Kind: KindTooLarge, Msg: fmt.Sprintf(
		"a single row of the result is larger than %s's byte cap (%s of JSON), so no row could be returned "+
			"(columns: %s); return less per row: a slice of a list (xs[0..100]), size(xs), or fewer properties, and retry",
		tool, units.Bytes(s.opts.maxBytes()), quoteList(columns))}
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := ""
	for i, n := range names {
		if i == 4 {
			return out + fmt.Sprintf(" and %d more", len(names)-4)
		}
		if i > 0 {
			out += ", "
		}
		out += truncate(n, 40)
	}
	return out
}

// acquireRaw takes this project's raw Cypher gate: graph_query and
// graph_write run one statement at a time per project, so that the records
// the driver decodes whole are held by one call at a time. Waiting is bounded
// by pool_timeout.
func (s *Store) acquireRaw(ctx context.Context, tool string) (func(), error) {
	if s.rawGate == nil {
		return func() {}, nil
	}
	select {
	case s.rawGate <- struct{}{}:
		return func() { <-s.rawGate }, nil
	default:
	}
	t := time.NewTimer(s.acquireTimeout())
	defer t.Stop()
	select {
	case s.rawGate <- struct{}{}:
		return func() { <-s.rawGate }, nil
	case <-ctx.Done():
		return nil, s.fail(ctx, "waiting for this project's other raw Cypher statement to finish", ctx.Err())
	case <-t.C:
		return nil, &Error{Kind: KindBusy, Msg: fmt.Sprintf(
			"%s waited %s (pool_timeout) for this project's other graph_query or graph_write to finish: raw Cypher runs "+
				"one statement at a time per project, to bound the memory its results take; retry when it has finished",
			tool, s.acquireTimeout())}
	}
}

// clientTimeout is the error for a statement whose transaction outlived the
// client's deadline (the query timeout plus txGrace): the server did not stop
// it, typically because it was still sending a very large result.
func (s *Store) clientTimeout(err error, what string) *Error {
	q := s.opts.queryTimeout()
	return &Error{Kind: KindTimeout, Err: err, Msg: fmt.Sprintf(
		"the statement did not finish within %s (the %s transaction timeout plus %s for its result to arrive) while %s; "+
			"nothing was committed; return less (LIMIT, fewer or smaller values per row) or narrow the statement",
		q+txGrace, q, txGrace, what)}
}
