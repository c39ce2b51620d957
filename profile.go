package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes pprof profiles of this server process into dir: the
// CPU profile of the whole run (cpu.pprof) and, when the server stops, the
// allocations since start (allocs.pprof). docs/performance.md reads the hot
// path from these; a person chasing a slow server can send them. The
// returned stop finishes both files.
func startProfiles(dir string) (stop func() error, err error) {
	refused := func(why string) error {
		return fmt.Errorf("--profile %q cannot hold the profiles (%s); give a folder you can write to, e.g. --profile /tmp/mcp-profile", dir, why)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, refused(errReason(err))
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return nil, refused(errReason(err))
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, refused(err.Error())
	}
	return func() error {
		pprof.StopCPUProfile()
		errs := []error{cpu.Close()}
		runtime.GC() // the allocations up to now, as the profile documents
		f, err := os.Create(filepath.Join(dir, "allocs.pprof"))
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		errs = append(errs, pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
		return errors.Join(errs...)
	}, nil
}

// errReason is a file error's cause without Go's operation and path prefix.
func errReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
