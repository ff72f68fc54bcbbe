package wsapi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// errFrameTooBig is what reads return once a client frame over the limit was seen.
var errFrameTooBig = errors.New("WebSocket frame over the 32 KB limit")

// frameGuard watches the frame headers of the client's byte stream and stops the stream at the
// first frame whose payload is over limit. The WebSocket library limits whole messages only;
// API Gateway also limits each frame.
type frameGuard struct {
	net.Conn
	limit int64
	// pending holds what net/http had buffered at hijack: the first frames of a client that
	// wrote as soon as it read the handshake answer.
	pending []byte

	header    []byte // the header being read
	need      int    // its length once known, else 0
	remaining int64  // payload bytes left in the current frame
	hit       atomic.Bool
}

func (g *frameGuard) tripped() bool { return g != nil && g.hit.Load() }

// Read passes the stream through up to the start of an oversized frame's header.
func (g *frameGuard) Read(p []byte) (int, error) {
	if g.hit.Load() {
		return 0, errFrameTooBig
	}
	var n int
	var err error
	if len(g.pending) > 0 {
		n = copy(p, g.pending)
		g.pending = g.pending[n:]
	} else {
		n, err = g.Conn.Read(p)
	}
	headerStart := 0
	for i := 0; i < n; {
		if g.remaining > 0 {
			skip := min(g.remaining, int64(n-i))
			i += int(skip)
			g.remaining -= skip
			continue
		}
		if len(g.header) == 0 {
			headerStart = i
		}
		g.header = append(g.header, p[i])
		i++
		if len(g.header) == 2 {
			g.need = 2
			switch g.header[1] & 0x7f {
			case 126:
				g.need += 2
			case 127:
				g.need += 8
			}
			if g.header[1]&0x80 != 0 {
				g.need += 4
			}
		}
		if len(g.header) < 2 || len(g.header) < g.need {
			continue
		}
		length := int64(g.header[1] & 0x7f)
		switch length {
		case 126:
			length = int64(binary.BigEndian.Uint16(g.header[2:4]))
		case 127:
			length = int64(binary.BigEndian.Uint64(g.header[2:10]) & (1<<63 - 1))
		}
		g.header, g.need = g.header[:0], 0
		if length > g.limit {
			g.hit.Store(true)
			if headerStart > 0 {
				return headerStart, nil
			}
			return 0, errFrameTooBig
		}
		g.remaining = length
	}
	return n, err
}

// guardedWriter hands the WebSocket library the connection wrapped in the guard at hijack.
type guardedWriter struct {
	http.ResponseWriter
	guard *frameGuard
}

// Hijack takes over the connection, as http.Hijacker.
func (w *guardedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the response writer cannot be hijacked")
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.guard.Conn = c
	// The buffered bytes go through the guard too; the library then finds an empty buffer.
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		w.guard.pending = append([]byte(nil), b...)
	}
	rw.Reader.Reset(strings.NewReader(""))
	return w.guard, rw, nil
}
