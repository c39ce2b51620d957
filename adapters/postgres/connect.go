package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Connect opens one connection to the database at rawURL (postgres://… or
// key=value). Its errors name the server without the password, and never
// carry it, whatever pgx puts into its own message.
func Connect(ctx context.Context, rawURL string) (*pgx.Conn, error) {
	if strings.TrimSpace(rawURL) == "" {
		return nil, errors.New("postgres: connect: no connection URL given; set a postgres:// URL")
	}
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, scrub(rawURL, fmt.Errorf("postgres: connect: the URL %s is not a PostgreSQL connection URL: %w", Redact(rawURL), err))
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, scrub(rawURL, fmt.Errorf("postgres: connect to %s: %w", Redact(rawURL), err))
	}
	return conn, nil
}

// Redact is rawURL fit for a message: a URL's password is replaced by ***,
// and so is a key=value password.
func Redact(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "***")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "***")
			u.RawQuery = q.Encode()
		}
		return strings.Replace(u.String(), "%2A%2A%2A", "***", -1)
	}
	return redactFallback(rawURL)
}

var (
	userinfoPassword = regexp.MustCompile(`(://[^:/@\s]*):[^@\s]*@`)
	keywordPassword  = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)
)

func redactFallback(s string) string {
	s = userinfoPassword.ReplaceAllString(s, "$1:***@")
	return keywordPassword.ReplaceAllString(s, "${1}***")
}

// scrubbed is an error whose message has had a secret removed; errors.Is and
// errors.As still reach the original.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub removes every password that rawURL holds from err's message.
func scrub(rawURL string, err error) error {
	msg := redactFallback(err.Error())
	for _, pw := range passwords(rawURL) {
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "***")
		}
	}
	return &scrubbed{msg: msg, err: err}
}

// passwords are the secrets rawURL may hold, as written and decoded.
func passwords(rawURL string) []string {
	var out []string
	if m := regexp.MustCompile(`://[^:/@\s]*:([^@\s]*)@`).FindStringSubmatch(rawURL); m != nil {
		out = append(out, m[1])
		if d, err := url.PathUnescape(m[1]); err == nil {
			out = append(out, d)
		}
	}
	for _, m := range keywordPassword.FindAllStringSubmatch(rawURL, -1) {
		out = append(out, strings.Trim(m[2], "'"))
	}
	if u, err := url.Parse(rawURL); err == nil {
		if pw, has := u.User.Password(); has {
			out = append(out, pw)
		}
		if pw := u.Query().Get("password"); pw != "" {
			out = append(out, pw)
		}
	}
	return out
}
