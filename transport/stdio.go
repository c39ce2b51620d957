package transport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// DefaultMaxStdioMessageBytes bounds one JSON-RPC message (one line) over
// stdio: the tools' 32 MiB argument limit plus room for the envelope, so that
// every call the tools accept still passes.
const DefaultMaxStdioMessageBytes = 33 << 20

// prefixForID is how much of an oversized line is searched for its id.
const prefixForID = 4 << 10

// LimitStdio wraps the stdio channel for mcp-go's StdioServer, which reads
// whole lines (bufio.Reader.ReadString) and so would buffer a line of any
// size before parsing it. The returned reader hands over lines of at most
// limit bytes (the newline included) unchanged; a longer line is dropped
// while it is read: once limit bytes have arrived without a newline, the
// rest of the line is discarded as it comes, and the returned writer gets a
// JSON-RPC error naming the limit (id null, or the request's id when it is
// found within the first 4 KiB). The session goes on with the next line.
//
// Give the returned writer to mcp-go as stdout: it serializes whole writes
// (mcp-go writes each message with one Write), so the refusal never lands
// inside one of mcp-go's messages.
func LimitStdio(stdin io.Reader, stdout io.Writer, limit int, log *slog.Logger) (io.Reader, io.Writer) {
	if limit <= 0 {
		limit = DefaultMaxStdioMessageBytes
	}
	if log == nil {
		log = slog.Default()
	}
	out := &lockedWriter{w: stdout}
	return &lineLimiter{src: bufio.NewReaderSize(stdin, 64<<10), limit: limit, out: out, log: log}, out
}

// lockedWriter serializes writes to stdout.
type lockedWriter struct {
	mu sync.Mutex // held for one whole Write
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lineLimiter is the reader LimitStdio returns. mcp-go reads it from one
// goroutine at a time (its reads are sequential), so it keeps no lock.
type lineLimiter struct {
	src   *bufio.Reader
	limit int
	out   io.Writer
	log   *slog.Logger

	line []byte // the current line, complete (ends in '\n') or the input's tail
	off  int    // how much of line was handed over
	err  error  // the source's error, returned once line is handed over
}

// bigLine is the capacity past which the line buffer is dropped after use,
// so that one large message does not pin its size for the whole session.
const bigLine = 1 << 20

func (l *lineLimiter) Read(p []byte) (int, error) {
	for l.off >= len(l.line) {
		if l.err != nil {
			return 0, l.err
		}
		if cap(l.line) > bigLine {
			l.line = nil
		}
		l.line, l.off = l.line[:0], 0
		l.fill()
	}
	n := copy(p, l.line[l.off:])
	l.off += n
	return n, nil
}

// fill reads the next line into l.line, or drops it if it is too long.
func (l *lineLimiter) fill() {
	for {
		frag, err := l.src.ReadSlice('\n')
		if len(l.line)+len(frag) > l.limit {
			head := l.line[:min(len(l.line), prefixForID)]
			if len(head) < prefixForID {
				head = append(head, frag[:min(len(frag), prefixForID-len(head))]...)
			}
			err = l.refuse(head, len(l.line)+len(frag), err)
			l.line = l.line[:0]
			if err == nil {
				continue // the next line
			}
			l.err = err
			return
		}
		l.line = append(l.line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		l.err = err // nil after a newline; io.EOF or a read error with the tail
		return
	}
}

// refuse answers an oversized line and discards the rest of it. read is how
// much of it was read, err the error of the read that crossed the limit
// (ErrBufferFull: the line goes on). It returns the error that ended the
// line: nil at its newline.
func (l *lineLimiter) refuse(head []byte, read int, err error) error {
	id := idOf(head)
	dropped := int64(read)
	msg := fmt.Sprintf("the message is larger than %d bytes, the server's limit for one JSON-RPC message (--max-message-bytes); "+
		"send smaller arguments: split the call or shorten the artifact", l.limit)
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": id,
		"error": map[string]any{"code": codeInvalidRequest, "message": msg, "data": map[string]any{"max_message_bytes": l.limit}},
	})
	if _, werr := l.out.Write(append(body, '\n')); werr != nil {
		l.log.Warn("could not answer an oversized stdio message", "err", werr)
	}
	for errors.Is(err, bufio.ErrBufferFull) {
		var frag []byte
		frag, err = l.src.ReadSlice('\n')
		dropped += int64(len(frag))
	}
	l.log.Warn("refused an oversized JSON-RPC message on stdin; the session goes on",
		"limit_bytes", l.limit, "dropped_bytes", dropped, "id", id)
	return err
}

// idOf returns the id of the JSON-RPC object that head starts, when its
// top-level "id" member comes before anything too long to read in head; else
// nil. Only a number or a string is an id.
func idOf(head []byte) any {
	dec := json.NewDecoder(bytes.NewReader(head))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := k.(string)
		if key != "id" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		v, err := dec.Token()
		if err != nil {
			return nil
		}
		switch v := v.(type) {
		case json.Number, string:
			return v
		}
		return nil
	}
	return nil
}
