// Package integration holds the tests that drive the real server binary over
// stdio, with real SQLite files in temporary projects, the way an MCP client does.
// The scripts that start external servers for later backends live beside them.
package integration
