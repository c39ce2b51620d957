package board

import "time"

// SetTick makes event streams started afterwards tick every d, until the
// returned function restores TickEvery. Not for parallel tests.
func SetTick(d time.Duration) (restore func()) {
	tickEvery = d
	return func() { tickEvery = TickEvery }
}
