package cli

import (
	"bytes"
	"strings"
	"testing"
)

// The board command serves this machine only, and says how to show a board
// elsewhere; a bad address is named with an example.
func TestBoardCommandRefusesAnAddressBeyondLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr, want string
	}{
		{"0.0.0.0:8770", `--addr "0.0.0.0:8770" reaches other machines, and the board command serves this machine only; to show the board elsewhere, run the HTTP server with a token`},
		{"192.168.1.5:0", `--addr "192.168.1.5:0" reaches other machines`},
		{"8770", `--addr "8770" is not host:port; use e.g. --addr 127.0.0.1:8770`},
	} {
		var out, errOut bytes.Buffer
		code := Board([]string{"--addr", tc.addr, "--workspace", t.TempDir()}, Env{Stdout: &out, Stderr: &errOut})
		if code != ExitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("board --addr %s: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.addr, code, out.String(), errOut.String(), ExitUsage, tc.want)
		}
	}
}
