//go:build linux

package managed_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
)

// fakeServer is the testdata/fakeserver binary, built once in TestMain.
var fakeServer string

const (
	helperEnv    = "MANAGED_TEST_ORPHAN_HELPER" // set: this binary is the orphan test's helper
	helperBinEnv = "MANAGED_TEST_FAKESERVER"
	helperLogEnv = "MANAGED_TEST_LOGFILE"
	helperRoot   = "MANAGED_TEST_SHARE_ROOT" // set: the helper shares its server in this project
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		orphanHelper()
		return
	}
	dir, err := os.MkdirTemp("", "managed-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeServer = filepath.Join(dir, "fakeserver")
	build := exec.Command("go", "build", "-o", fakeServer, "./testdata/fakeserver")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build testdata/fakeserver:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// orphanHelper starts a managed fake server, prints "PID PORT" and waits to be
// SIGKILLed by TestChildDiesWhenItsParentIsKilled.
func orphanHelper() {
	spec := fakeSpec(os.Getenv(helperBinEnv), os.Getenv(helperLogEnv))
	if root := os.Getenv(helperRoot); root != "" {
		spec = sharedSpec(os.Getenv(helperBinEnv), root)
	}
	s, err := managed.Start(context.Background(), spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	u := s.BaseURL()
	fmt.Printf("%d %s\n", s.PID(), u[strings.LastIndex(u, ":")+1:])
	time.Sleep(time.Minute) // bounded, in case the test fails to kill us
	os.Exit(2)
}

// fakeSpec runs the fake server with args after -port.
func fakeSpec(bin, logFile string, args ...string) managed.Spec {
	return managed.Spec{
		Name:    "fake",
		Command: bin,
		Args: func(port int) []string {
			return append([]string{"-port", strconv.Itoa(port)}, args...)
		},
		Dir:          filepath.Dir(logFile),
		LogFile:      logFile,
		Health:       health,
		StartTimeout: 10 * time.Second,
		StopTimeout:  5 * time.Second,
	}
}
