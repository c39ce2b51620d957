package workspace

import (
	"fmt"
	"log/slog"
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
