package workspace

import (
	"fmt"
	"log/slog"
	"regexp"
)

// redactedMark is what a Secret prints as, whatever its value (even empty),
// so output never tells whether or what a credential is.
const redactedMark = "****"

// Secret is a credential read from the global config or the environment.
// Every way of printing it — fmt verbs including %#v and %x, JSON, text
// marshalling, slog — yields "****". Only Reveal returns the value; call it
// at the one place that hands the credential to a driver. (One hole no
// method can close: encoding/json writes a string-kind map key verbatim, so
// never key a map by a Secret.)
type Secret string

// Reveal returns the credential itself. Never log or return its result.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a credential was configured.
func (s Secret) IsSet() bool { return s != "" }

// String returns "****".
func (s Secret) String() string { return redactedMark }

// GoString returns "****", so %#v of a struct holding a Secret is safe too.
func (s Secret) GoString() string { return redactedMark }

// Format writes "****" for every verb (%v, %s, %q, %x, %d, …), so no verb
// can reach the underlying string.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedMark)) }

// MarshalJSON writes "****" as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedMark + `"`), nil }

// MarshalText writes "****" (encoders other than JSON, map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redactedMark), nil }

// LogValue makes slog print "****".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redactedMark) }

// Redact is the one function that masks credentials in text meant for a log
// line, an error, a tool result, a metric label or a config dump: the
// userinfo of URLs (user:password@ and token@ become ***@, also when the
// password holds a raw @, /, ? or #), values after
// password=, passwd=, pwd=, token=, key= and secret= (any case, also at the
// end of a longer name such as api_key= or access_token=; quoted or up to a
// separator), and Bearer/Basic authorization values. Everything else is
// kept, so the result still says which host or setting is meant.
//
// Secret values print as "****" on their own; Redact is for strings that
// may embed one (a URL from a config file, a driver's error message).
// pool configs (PoolSettings.PoolConfig) and Config.Redacted call it.
func Redact(s string) string {
	s = rawUserinfo.ReplaceAllString(s, "${1}***@")
	s = urlUserinfo.ReplaceAllString(s, "${1}***@")
	s = secretValue.ReplaceAllString(s, "${1}=***")
	s = authValue.ReplaceAllString(s, "${1} ***")
	return s
}

var (
	// userinfo in a URL: scheme://user:password@host or scheme://token@host.
	// Greedy up to the last @ of the authority, so a password holding @ is masked too.
	urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/?#\s]+@`)
	// user:password whose password holds a raw /, ? or # (pasted unencoded,
	// as in NEO4J_URI=bolt://neo4j:pa/ss@host), which urlUserinfo stops at.
	// The text between the colon and that character must hold a non-digit,
	// so a port (http://h:8080/x?to=a@b) is not taken for a password; it
	// runs to the last @ before a space or quote, erring towards masking.
	rawUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*://)[^\s/?#@:]*:[^\s/?#@]*[^\s/?#@0-9][^\s/?#@]*[/?#][^\s"']*@`)
	// key=value secrets, as in DSNs, query strings and driver messages. The key
	// may end a longer name (api_key=, access_token=, client_secret=); the value
	// runs to whitespace or a separator, or is quoted.
	secretValue = regexp.MustCompile(`(?i)(password|passwd|pwd|token|key|secret)=("[^"]*"|'[^']*'|[^\s&;,]+)`)
	// HTTP authorization values echoed in errors.
	authValue = regexp.MustCompile(`(?i)(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*`)
)
