//go:build !unix

package mirror

// processAlive cannot tell here: a lease left by a dead process expires.
func processAlive(int) bool { return true }
