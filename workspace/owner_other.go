//go:build !unix

package workspace

import "io/fs"

// posixPerms: mode bits do not describe access here (Windows ACLs), so Validate skips them.
const posixPerms = false

// ownedByUs cannot check ownership here; the folder's ACLs are the OS's business.
func ownedByUs(fs.FileInfo) (int, bool) { return -1, true }
