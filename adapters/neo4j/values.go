package neo4j

import (
	"encoding/base64"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"
)

// jsonValue turns a value the driver returned into one that encodes as JSON
// for a client: nodes as {labels, properties}, relationships as {type,
// properties}, paths as {nodes, relationships}, temporal values as ISO 8601
// strings, points as {srid, x, y[, z]}, bytes as base64, and NaN/±Inf as
// strings. The store's own properties (_project, _pk) are left out.
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		}
		return x
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case dbtype.Node:
		return map[string]any{"labels": nonNil(x.Labels), "properties": publicProps(x.Props, false)}
	case dbtype.Relationship:
		return map[string]any{"type": x.Type, "properties": publicProps(x.Props, false)}
	case dbtype.Path:
		nodes := make([]any, len(x.Nodes))
		for i, n := range x.Nodes {
			nodes[i] = jsonValue(n)
		}
		rels := make([]any, len(x.Relationships))
		for i, r := range x.Relationships {
			rels[i] = jsonValue(r)
		}
		return map[string]any{"nodes": nodes, "relationships": rels}
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case dbtype.Date:
		return x.String()
	case dbtype.LocalTime:
		return x.String()
	case dbtype.LocalDateTime:
		return x.String()
	case dbtype.Time:
		return x.String()
	case dbtype.Duration:
		return x.String()
	case dbtype.Point2D:
		return map[string]any{"srid": x.SpatialRefId, "x": x.X, "y": x.Y}
	case dbtype.Point3D:
		return map[string]any{"srid": x.SpatialRefId, "x": x.X, "y": x.Y, "z": x.Z}
	case *dbtype.InvalidValue:
		return map[string]any{"invalid": x.Message}
	case []string, []int64, []float64, []bool:
		return x
	}
	return fmt.Sprint(v)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// publicProps converts properties for a client, without the store's own
// (_project, _pk) and, for a node shown as a Node, without its key.
func publicProps(props map[string]any, dropKey bool) map[string]any {
	out := make(map[string]any, len(props))
	for k, v := range props {
		if internalKeys[k] || (dropKey && k == "key") {
			continue
		}
		out[k] = jsonValue(v)
	}
	return out
}

// toNode builds a Node from a driver node: Label is its first label (a node
// the structured tools wrote has exactly one), Key its key property.
func toNode(n dbtype.Node) Node {
	labels := append([]string(nil), n.Labels...)
	sort.Strings(labels)
	out := Node{Labels: nonNil(labels), Properties: publicProps(n.Props, true)}
	if len(n.Labels) > 0 {
		out.Label = n.Labels[0]
	}
	if k, ok := n.Props["key"].(string); ok {
		out.Key = k
	} else if k, ok := n.Props["key"]; ok {
		out.Key = fmt.Sprint(k)
	}
	return out
}

// sortedUnique sorts names and drops duplicates and the store's own.
func sortedUnique(names []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, n := range names {
		if n == "" || seen[n] || internalKeys[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
