// Package units writes quantities for people: sizes in the messages that
// tell a caller which limit it met. It imports nothing of this module.
package units

import "fmt"

// Bytes writes n as MiB or KiB when it is a whole number of them, else as bytes.
func Bytes[N ~int | ~int64](n N) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
