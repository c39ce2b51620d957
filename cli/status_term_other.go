//go:build !unix

package cli

import "io"

// terminalWidth is 0 (unknown) where the window size is not read: status uses 80 columns.
func terminalWidth(io.Writer) int { return 0 }
