package mirror

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// A syncer's lease owner id: host, process id and a random part, so that a
// syncer can tell a lease left by a process of this host that died (SIGKILL,
// a crash) and take it over at once instead of waiting for it to expire.
func newOwner() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", hostname(), os.Getpid(), hex.EncodeToString(b[:]))
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return strings.ReplaceAll(h, ":", "_")
}

// deadOwner reports whether the lease owner other was a process of this host
// that no longer runs. Anything else (another host, this process, a process
// that runs) is alive.
func deadOwner(other string) bool {
	parts := strings.Split(other, ":")
	if len(parts) != 3 || parts[0] != hostname() {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return !processAlive(pid)
}
