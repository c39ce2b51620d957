package chroma

// Document is one record of a collection: an id, its text, metadata and vector.
// Upsert stores Text as Chroma's document (an empty string when absent) and
// needs Embedding only when no embedding provider is configured; Get leaves
// Embedding out.
type Document struct {
	ID        string         `json:"id"`
	Text      string         `json:"text,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	Embedding []float32      `json:"embedding,omitempty"`
}

// Match is one result of a Query, nearest first. Distance is the collection's
// space (cosine for collections created here: 0 is identical, 2 is opposite).
type Match struct {
	ID       string         `json:"id"`
	Text     string         `json:"text"`
	Metadata map[string]any `json:"metadata"`
	Distance float64        `json:"distance"`
}

// QueryRequest asks for the documents nearest to Text (embedded with the
// collection's provider) or to Embedding (exactly one of them).
type QueryRequest struct {
	Collection string
	Text       string
	Embedding  []float32
	NResults   int // 1..100, 0 = 10
	Where      map[string]any
}

// GetRequest fetches documents by id and/or metadata filter (neither: all, paged).
type GetRequest struct {
	Collection string
	IDs        []string
	Where      map[string]any
	Limit      int // 0 = 100, max 1000
	Offset     int
}

// UpsertResult says what an Upsert stored.
type UpsertResult struct {
	Upserted   int    `json:"upserted"`
	Batches    int    `json:"batches"`
	Dimensions int    `json:"dimensions"`
	Embedding  string `json:"embedding" jsonschema:"Where the vectors came from: caller, lexical-v1, openai:MODEL, ollama:MODEL, default"`
}

// CollectionInfo describes one collection of the project.
type CollectionInfo struct {
	Name       string `json:"name"`
	Count      int    `json:"count"`
	Embedding  string `json:"embedding"`
	Dimensions int    `json:"dimensions"`
	Space      string `json:"space"`
}

// Info describes how the project's vector store is reached (no secrets).
type Info struct {
	Mode     Mode   `json:"mode"`
	URL      string `json:"url"`      // sanitized
	Database string `json:"database"` // remote: the project's database
	DataDir  string `json:"data_dir"` // managed: where the data lives
	PID      int    `json:"pid,omitempty"`
}

// Limits of one call.
const (
	// MaxUpsert is the most documents one Upsert takes (it splits them into
	// batches of the server's max_batch_size itself).
	MaxUpsert = 10000
	// MaxIDLength is the longest document id accepted.
	MaxIDLength = 512
	// MaxNResults is the most matches one Query returns.
	MaxNResults = 100
	// MaxGetLimit is the most documents one Get returns.
	MaxGetLimit = 1000
)
