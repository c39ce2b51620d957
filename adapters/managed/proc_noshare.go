//go:build !linux

package managed

import (
	"errors"
	"os"
)

// sharingSupported: without /proc (a pid's start time and command line) an
// announced server cannot be verified, and without Pdeathsig it could outlive
// its owner: each process runs its own server, as before (Spec.Share ignored).
const sharingSupported = false

type procInfo struct {
	start   uint64
	zombie  bool
	cmdline []string
}

var errNoProc = errors.New("process information is not available on this system")

func readProc(int) (procInfo, error)    { return procInfo{}, errNoProc }
func bootID() string                    { return "" }
func fileOwner(os.FileInfo) (int, bool) { return -1, false }
func processesOn(string) []int          { return nil }
func tryLock(*os.File) (bool, error)    { return true, nil }
