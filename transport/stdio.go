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

	// chunks is the current line, complete (its last byte is '\n') or the
	// input's tail, in the pieces it was read in (each at most the source
	// buffer's 64 KiB): kept as pieces, a long line costs its size once,
	// not the copies of a slice that doubles as it grows. Handed over ones
	// are dropped.
	chunks [][]byte
	err    error // the source's error, returned once chunks are handed over
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	for len(l.chunks) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		l.fill()
	}
	n := copy(p, l.chunks[0])
	if n == len(l.chunks[0]) {
		l.chunks[0] = nil
		l.chunks = l.chunks[1:]
	} else {
		l.chunks[0] = l.chunks[0][n:]
	}
	return n, nil
}

// fill reads the next line into l.chunks, or drops it if it is too long.
func (l *lineLimiter) fill() {
	size := 0
	for {
		frag, err := l.src.ReadSlice('\n')
		if size+len(frag) > l.limit {
			head := l.head(frag)
			l.chunks = nil
			if err = l.refuse(head, size+len(frag), err); err == nil {
				size = 0
				continue // the next line
			}
			l.err = err
			return
		}
		if len(frag) > 0 {
			l.chunks = append(l.chunks, bytes.Clone(frag))
			size += len(frag)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		l.err = err // nil after a newline; io.EOF or a read error with the tail
		return
	}
}

// head is the first prefixForID bytes of the line read so far and frag.
func (l *lineLimiter) head(frag []byte) []byte {
	var h []byte
	for _, c := range append(l.chunks, frag) {
		h = append(h, c[:min(len(c), prefixForID-len(h))]...)
		if len(h) == prefixForID {
			break
		}
	}
	return h
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
