package managed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
)

// readDiscovery reads a discovery file. The file is untrusted (a cloned
// repository may carry one): it is read only if it is a regular file (open
// must not follow links: workspace.OpenProjectFile) owned by us with mode
// 0600, and holds JSON.
func readDiscovery(open func(path string, flag int, perm fs.FileMode) (*os.File, error), path string) (discovery, error) {
	var d discovery
	f, err := open(path, os.O_RDONLY, 0)
	if err != nil {
		return d, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return d, err
	}
	if !fi.Mode().IsRegular() {
		return d, errors.New("the discovery file is not a regular file")
	}
	if uid, ok := fileOwner(fi); !ok || uid != os.Geteuid() {
		return d, fmt.Errorf("the discovery file belongs to uid %d, not to us", uid)
	}
	if fi.Mode().Perm() != 0o600 {
		return d, fmt.Errorf("the discovery file has mode %o, not 600", fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxDiscovery))
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, errors.New("the discovery file is not valid JSON")
	}
	return d, nil
}

// verifyDiscovery checks what a discovery file claims against the system:
// this kind of server and data folder, this boot, a loopback port, a live pid
// whose start time and command line (the data folder) match.
func verifyDiscovery(d discovery, kind, dataDir string) (*peer, error) {
	switch {
	case d.Kind != kind:
		return nil, fmt.Errorf("the discovery file is for %q", d.Kind)
	case d.DataDir != dataDir:
		return nil, fmt.Errorf("the discovery file names another data folder")
	case d.Port < 1 || d.Port > 65535:
		return nil, fmt.Errorf("the discovery file names port %d", d.Port)
	case d.PID <= 1:
		return nil, fmt.Errorf("the discovery file names pid %d", d.PID)
	case d.BootID == "" || d.BootID != bootID():
		return nil, errors.New("the discovery file was written before the last boot")
	}
	if ip, err := netip.ParseAddr(d.Host); err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("the discovery file names host %q, not a loopback address", d.Host)
	}
	info, err := readProc(d.PID)
	switch {
	case err != nil || info.zombie:
		return nil, fmt.Errorf("the server it names (pid %d) is not running", d.PID)
	case info.start != d.PIDStart:
		return nil, fmt.Errorf("pid %d started at another time than the server it names (a recycled pid)", d.PID)
	case !namesDir(info.cmdline, dataDir):
		return nil, fmt.Errorf("pid %d is not a server on this project's data folder", d.PID)
	}
	return &peer{pid: d.PID, start: d.PIDStart, port: d.Port, owner: d.OwnerPID,
		baseURL: "http://" + net.JoinHostPort(d.Host, strconv.Itoa(d.Port))}, nil
}

// Announcement is what a verified discovery file says of a project's managed
// server, for people (status): never its secret.
type Announcement struct {
	Kind      string `json:"kind"`
	PID       int    `json:"pid"`
	Port      int    `json:"port"`
	OwnerPID  int    `json:"owner_pid"`
	Published string `json:"published,omitempty"`
	// OwnerAlive: the owner's pid runs and started when the file says it did.
	OwnerAlive bool `json:"owner_alive"`
}

// ReadAnnouncement reads and verifies a project's discovery file exactly as
// an attaching server process does (readDiscovery, verifyDiscovery), for a
// reader that only reports (status). open must not follow links
// (workspace.OpenProjectFile). A file that fails is reported by the error
// (one sentence, no secret); nothing is ever signalled.
func ReadAnnouncement(open func(path string, flag int, perm fs.FileMode) (*os.File, error), kind, discoveryFile, dataDir string) (Announcement, error) {
	if !sharingSupported {
		return Announcement{}, errors.New("servers are not shared across processes on this system")
	}
	d, err := readDiscovery(open, discoveryFile)
	if err != nil {
		return Announcement{}, err
	}
	p, err := verifyDiscovery(d, kind, dataDir)
	if err != nil {
		return Announcement{}, err
	}
	a := Announcement{Kind: kind, PID: p.pid, Port: p.port, OwnerPID: p.owner, Published: d.Published}
	if st, ok := ProcessStart(d.OwnerPID); ok && d.OwnerPID > 1 && st == d.OwnerStart {
		a.OwnerAlive = true
	}
	return a, nil
}

// ProcessStart is pid's start time (clock ticks after boot, /proc/PID/stat
// field 22) while it runs and is not a zombie; ok is false otherwise, and
// where the system has no /proc.
func ProcessStart(pid int) (start uint64, ok bool) {
	info, err := readProc(pid)
	if err != nil || info.zombie {
		return 0, false
	}
	return info.start, true
}

// BootID changes at every boot ("" where the system does not tell it): pids
// and start times recorded under another boot id name other processes.
func BootID() string { return bootID() }
