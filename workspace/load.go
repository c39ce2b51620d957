package workspace

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ConfigFileName is the name of the global and the project config file.
const ConfigFileName = "config.json"

// MaxConfigBytes bounds a config file; a bigger one is refused unread.
const MaxConfigBytes = 1 << 20

// ErrConfigFileRefused: a config file is too large, not a regular file, or
// (project file) resolves to somewhere outside the project.
var ErrConfigFileRefused = errors.New("config file refused")

// LoadOptions says where LoadGlobal looks.
type LoadOptions struct {
	// GlobalPath is --config. "" means DefaultGlobalPath, which may be
	// missing; an explicit path must exist.
	GlobalPath string
	// Env reads the environment; nil = os.Getenv.
	Env func(string) string
}

// envBinding is one environment variable that overrides a config field.
// A variable that is unset or empty overrides nothing.
type envBinding struct {
	name, path string
	set        func(c *Config, v string) (rule string) // rule != "" when v is unusable
}

// EnvVar names the environment variable that overrides the config key at Path.
type EnvVar struct{ Name, Path string }

// EnvVars lists every environment variable the configuration reads, in order.
func EnvVars() []EnvVar {
	out := make([]EnvVar, len(envBindings))
	for i, b := range envBindings {
		out[i] = EnvVar{Name: b.name, Path: b.path}
	}
	return out
}

var envBindings = []envBinding{
	{"TASK_ORCHESTRATOR_MAX_WORKSPACES", "server.max_workspaces", func(c *Config, v string) string {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return "must be a whole number"
		}
		c.Server.MaxWorkspaces = n
		return ""
	}},
	{"TASK_ORCHESTRATOR_LOG_LEVEL", "server.log_level", func(c *Config, v string) string { c.Server.LogLevel = v; return "" }},
	{"CHROMA_URL", "backends.chroma_url", func(c *Config, v string) string { c.Backends.ChromaURL = v; return "" }},
	{"CHROMA_TOKEN", "backends.chroma_token", func(c *Config, v string) string { c.Backends.ChromaToken = Secret(v); return "" }},
	{"CHROMA_TENANT", "backends.chroma_tenant", func(c *Config, v string) string { c.Backends.ChromaTenant = v; return "" }},
	{"TASK_ORCHESTRATOR_CHROMA_COMMAND", "backends.chroma_command", func(c *Config, v string) string { c.Backends.ChromaCommand = v; return "" }},
	{"TASK_ORCHESTRATOR_EMBEDDINGS_PROVIDER", "embeddings.provider", func(c *Config, v string) string { c.Embeddings.Provider = v; return "" }},
	{"TASK_ORCHESTRATOR_EMBEDDINGS_MODEL", "embeddings.model", func(c *Config, v string) string { c.Embeddings.Model = v; return "" }},
	{"TASK_ORCHESTRATOR_EMBEDDINGS_URL", "embeddings.base_url", func(c *Config, v string) string { c.Embeddings.BaseURL = v; return "" }},
	{"NEO4J_DATABASE", "backends.neo4j_database", func(c *Config, v string) string { c.Backends.Neo4jDatabase = v; return "" }},
	{"NEO4J_URI", "backends.neo4j_uri", func(c *Config, v string) string { c.Backends.Neo4jURI = v; return "" }},
	{"NEO4J_USERNAME", "backends.neo4j_username", func(c *Config, v string) string { c.Backends.Neo4jUsername = v; return "" }},
	{"NEO4J_PASSWORD", "backends.neo4j_password", func(c *Config, v string) string { c.Backends.Neo4jPassword = Secret(v); return "" }},
}

// DefaultGlobalPath is $XDG_CONFIG_HOME/task-orchestrator/config.json, or
// ~/.config/task-orchestrator/config.json when XDG_CONFIG_HOME is unset or
// relative (the XDG spec says to ignore a relative one); "" if neither is known.
func DefaultGlobalPath(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "task-orchestrator", ConfigFileName)
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".config", "task-orchestrator", ConfigFileName)
}

// LoadGlobal builds the server-wide configuration: Defaults < global file <
// environment (TASK_ORCHESTRATOR_MAX_WORKSPACES, TASK_ORCHESTRATOR_LOG_LEVEL,
// CHROMA_URL, NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD), then validates it.
// It returns the files it read. Errors are *ConfigSyntaxError,
// *ValidationError (every violation at once) or file errors.
func LoadGlobal(opts LoadOptions) (Config, []string, error) {
	getenv := opts.Env
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg := Defaults()
	var files []string
	path, explicit := opts.GlobalPath, opts.GlobalPath != ""
	if !explicit {
		path = DefaultGlobalPath(getenv)
	} else if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if path != "" {
		data, err := readConfigFile(path)
		switch {
		case err == nil:
			if err := decodeOnto(&cfg, data, path, false); err != nil {
				return Config{}, nil, err
			}
			files = append(files, path)
		case !explicit && errors.Is(err, fs.ErrNotExist):
			// no global file: defaults and environment only
		case errors.Is(err, fs.ErrNotExist):
			return Config{}, nil, fmt.Errorf("config file %s does not exist; check the --config path: %w", path, err)
		default:
			return Config{}, nil, err
		}
	}

	var vs []Violation
	fromEnv := map[string]string{}
	for _, b := range envBindings {
		v := getenv(b.name)
		if v == "" {
			continue
		}
		if rule := b.set(&cfg, v); rule != "" {
			vs = append(vs, Violation{Path: b.path, Value: v, Rule: "$" + b.name + " " + rule})
			continue
		}
		fromEnv[b.path] = b.name
	}
	for _, v := range cfg.violations() {
		if name, ok := fromEnv[v.Path]; ok {
			v.Rule += " (set by $" + name + ")"
		}
		vs = append(vs, v)
	}
	if len(vs) > 0 {
		file := ""
		if len(files) > 0 {
			file = files[0]
		}
		return Config{}, files, &ValidationError{File: file, Violations: vs}
	}
	return cfg, files, nil
}

// projectConfig is everything a project's own config file may set: pool
// tuning and turning a backend off. The file is untrusted (whoever wrote the
// repository wrote it), so it can name no command, address, credential or path.
type projectConfig struct {
	DatabasePools DatabasePools `json:"database_pools"`
}

// ApplyProject overlays <root>/.task_orchestrator/configs/config.json on
// base and validates the result. It returns the file it read ("" if there is
// none). The file may only hold database_pools settings; any other key is a
// violation. It is refused if it is larger than MaxConfigBytes, not a regular
// file, or resolves (through symlinks) to outside the project. base is not
// modified.
func ApplyProject(base Config, layout Layout) (Config, string, error) {
	path := filepath.Join(layout.Configs, ConfigFileName)
	data, err := readProjectConfig(layout, path)
	if errors.Is(err, fs.ErrNotExist) {
		return base, "", base.Validate()
	}
	if err != nil {
		return Config{}, path, err
	}
	cfg := base.clone()
	proj := projectConfig{DatabasePools: cfg.DatabasePools}
	if err := decodeOnto(&proj, data, path, true); err != nil {
		return Config{}, path, err
	}
	cfg.DatabasePools = proj.DatabasePools
	if vs := cfg.violations(); len(vs) > 0 {
		return Config{}, path, &ValidationError{File: path, Violations: vs}
	}
	return cfg, path, nil
}

func readProjectConfig(layout Layout, path string) ([]byte, error) {
	// No link is followed and a FIFO cannot block: see OpenProjectFile.
	f, err := OpenProjectFile(layout, path, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrUnsafeFile) {
			return nil, err
		}
		return nil, fmt.Errorf("project config %s: %w", path, err)
	}
	defer f.Close()
	return readConfigFrom(f, path)
}

// readConfigFile reads a regular file of at most MaxConfigBytes.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	defer f.Close()
	return readConfigFrom(f, path)
}

// readConfigFrom reads the open config file f (named path in messages).
func readConfigFrom(f *os.File, path string) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrConfigFileRefused, path)
	}
	tooBig := func(size int64) error {
		return fmt.Errorf("%w: %s is %d bytes, over the %d-byte limit for config files; is it the right file?", ErrConfigFileRefused, path, size, MaxConfigBytes)
	}
	if fi.Size() > MaxConfigBytes {
		return nil, tooBig(fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1)) // the file may grow after Stat
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > MaxConfigBytes {
		return nil, tooBig(int64(len(data)))
	}
	return data, nil
}

// clone copies c deeply enough that decoding onto the copy cannot write
// through to c (the Enabled pointers are the only shared memory).
func (c Config) clone() Config {
	for _, p := range []*PoolSettings{&c.DatabasePools.Operational, &c.DatabasePools.Vector, &c.DatabasePools.Graph} {
		if p.Enabled != nil {
			v := *p.Enabled
			p.Enabled = &v
		}
	}
	return c
}
