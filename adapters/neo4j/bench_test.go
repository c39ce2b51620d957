package neo4j_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
)

// BenchmarkNeighbors compares one Neighbors call (depth 2 around a hub with
// 20 leaves, each with 2 children: 60 neighbours) through the store's
// driver and session pool with the same call through a new driver per call
// (the baseline: a new TCP connection, Bolt handshake and login each time).
// pooled pre-pings (VerifyConnectivity before each call, the default); the
// without-pre-ping variant shows what that costs.
//
//	go test -run '^$' -bench Neighbors -benchtime 2s ./adapters/neo4j/
func BenchmarkNeighbors(b *testing.B) {
	ctx := context.Background()
	opts := sharedOptions(project(b), false)
	s := open(b, opts)
	opts.Settings.PoolPrePing = false
	noPing, err := neo4j.Open(ctx, opts) // same project: open's clean-up of s removes the nodes
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = noPing.Close(ctx) })
	hub := neo4j.NodeRef{Label: "BenchHub", Key: "hub"}
	merge(b, s, hub.Label, hub.Key, nil)
	for i := range 20 {
		leaf := neo4j.NodeRef{Label: "BenchLeaf", Key: fmt.Sprintf("l%02d", i)}
		merge(b, s, leaf.Label, leaf.Key, map[string]any{"i": i})
		relate(b, s, hub, leaf, "HAS", nil)
		for j := range 2 {
			child := neo4j.NodeRef{Label: "BenchLeaf", Key: fmt.Sprintf("l%02d-%d", i, j)}
			merge(b, s, child.Label, child.Key, nil)
			relate(b, s, leaf, child, "HAS", nil)
		}
	}
	req := neo4j.NeighborsRequest{From: hub, Depth: 2, Direction: "out"}
	for _, bc := range []struct {
		name  string
		store *neo4j.Store
	}{
		{"pooled", s},
		{"pooled-without-pre-ping", noPing},
		{"new-driver-per-call", neo4j.NewFresh(s)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ns, _, err := bc.store.Neighbors(ctx, req)
				if err != nil || len(ns) != 60 {
					b.Fatalf("Neighbors = %d, %v", len(ns), err)
				}
			}
		})
	}
}
