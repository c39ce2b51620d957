package transport

import "time"

// SetClock replaces the server's clock (rate buckets, blacklist cool-downs).
func SetClock(s *Server, now func() time.Time) { s.now = now }

// ClientCount is how many clients the limits remember.
func ClientCount(s *Server) int { return s.clients.size() }

// SweepClients runs one sweep as the server's sweeper would at now.
func SweepClients(s *Server, now time.Time) { s.clients.sweep(now, time.Minute) }

// WatchTokenCompares wraps the constant-time compare and reports the lengths
// of the values it was given; restore puts the original back.
func WatchTokenCompares() (lengths func() [][2]int, restore func()) {
	orig := constantTimeCompare
	var got [][2]int
	constantTimeCompare = func(a, b []byte) int {
		got = append(got, [2]int{len(a), len(b)})
		return orig(a, b)
	}
	return func() [][2]int { return got }, func() { constantTimeCompare = orig }
}

// SessionCount is how many sessions the server knows.
func SessionCount(s *Server) int { return s.sessions.len() }

// IDOf is the id LimitStdio finds at the start of an oversized line.
func IDOf(head string) any { return idOf([]byte(head)) }
