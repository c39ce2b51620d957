// Package chroma is the per-project vector store: collections of documents
// with embeddings on a real Chroma server, reached through
// github.com/amikos-tech/chroma-go (pkg/api/v2).
//
// A project reaches Chroma in one of two modes (see Resolve): managed, a
// server of its own started on first use with its data under
// .task_orchestrator/databases/chroma (supervised by adapters/managed); or
// remote, one database per project (named by DatabaseName) on a shared server
// given by CHROMA_URL, created on first use.
//
// It owns one keep-alive http.Transport per store (the TCP connections) and
// one pooling.Pool of request slots that bounds the requests in flight, pings
// the server (its heartbeat) and trips a circuit breaker when it is down, so
// calls then fail fast with a retry-after instead of hanging.
//
// Vectors are always computed here, before chroma-go is called: from the
// caller, or from the configured provider (lexical, an OpenAI-compatible
// endpoint, Ollama, or chroma-go's default ONNX model). Each collection
// records in its metadata where its vectors come from and their size, and
// every upsert and query is checked against it, so spaces never mix.
//
// What it must never do: send documents to Chroma without embeddings (Chroma
// 1.0 accepts them and then fails every later write to the collection); let
// chroma-go build its default embedding function implicitly (it downloads a
// model); write to stdout; or put a credential (CHROMA_TOKEN, an API key, a
// URL's userinfo) into an error, a log line or Info.
package chroma
