package units

import "testing"

func TestBytesNamesWholeMiBAndKiBAndElseBytes(t *testing.T) {
	for n, want := range map[int64]string{64 << 20: "64 MiB", 64 << 10: "64 KiB", 1 << 20: "1 MiB", 1536: "1536 bytes", 100: "100 bytes", 0: "0 bytes"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
