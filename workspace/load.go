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

// MaxConfigBytes bounds the global config file; a bigger one is refused unread.
const MaxConfigBytes = 1 << 20

// MaxProjectConfigBytes bounds a project's config file, which is untrusted: a
// complete one is about 2 KiB. A bigger one is refused unread.
const MaxProjectConfigBytes = 64 << 10

// ProjectConfigFile is where a project's config file is, relative to the
// project root. Errors about it name it so: the client may not see the root.
var ProjectConfigFile = filepath.Join(DirName, "configs", ConfigFileName)

// ErrConfigFileRefused: a config file is too large, too deep, has too many
// keys, or is not a regular file (for a project: a symlink is refused too).
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
	{"TASK_ORCHESTRATOR_MAX_PROJECT_CONNECTIONS", "server.max_project_connections", func(c *Config, v string) string {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return "must be a whole number"
		}
		c.Server.MaxProjectConnections = n
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
// It returns the files it read. A problem in the file or the result is a
// *ValidationError (the first MaxReportedProblems violations and a count of
// the rest; a syntax error unwraps to *ConfigSyntaxError); a file that cannot
// be read is a file error.
func LoadGlobal(opts LoadOptions) (Config, []string, error) {
	getenv := opts.Env
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg := Defaults()
	var files []string
	var keys keyPositions
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
			if keys, err = decodeOnto(&cfg, data, path, false); err != nil {
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
	merged := cfg.violations()
	for _, v := range merged {
		if name, ok := fromEnv[v.Path]; ok {
			v.Rule += " (set by $" + name + ")"
		} else if p, ok := keys[v.Path]; ok {
			v.Line, v.Column = p[0], p[1]
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
// violation. It is refused unread if it is a symlink or not a regular file
// (opened without following links and without blocking, so a FIFO cannot
// hang the call) or larger than MaxProjectConfigBytes, and unparsed if it is
// deeper than MaxConfigDepth or has more than MaxConfigKeys keys. Every
// error is a *ValidationError naming the file as ProjectConfigFile, with at
// most MaxReportedProblems problems listed. base is not modified.
//
// A server calls it through ProjectConfigs, which caches the outcome.
func ApplyProject(base Config, layout Layout) (Config, string, error) {
	cfg, file, _, err := applyProject(base, filepath.Join(layout.Configs, ConfigFileName))
	return cfg, file, err
}

// applyProject is ApplyProject on the file at path; it also returns the
// file's information from the open descriptor (nil when it was not opened).
func applyProject(base Config, path string) (Config, string, fs.FileInfo, error) {
	data, fi, err := readProjectConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		return base, "", nil, base.Validate()
	}
	if err != nil {
		return Config{}, path, fi, err
	}
	cfg, err := overlayProject(base, data)
	return cfg, path, fi, err
}

// overlayProject decodes a project file's content onto base and validates the result.
func overlayProject(base Config, data []byte) (Config, error) {
	cfg := base.clone()
	proj := projectConfig{DatabasePools: cfg.DatabasePools}
	keys, err := decodeOnto(&proj, data, ProjectConfigFile, true)
	if err != nil {
		return Config{}, err
	}
	cfg.DatabasePools = proj.DatabasePools
	if vs := cfg.violations(); len(vs) > 0 {
		keys.locate(vs)
		return Config{}, &ValidationError{File: ProjectConfigFile, Violations: vs}
	}
	return cfg, nil
}

// refusedFile is a project config file refused as a whole.
func refusedFile(rule string) error {
	return &ValidationError{File: ProjectConfigFile, Violations: []Violation{{Rule: rule}}, cause: ErrConfigFileRefused}
}

// refuseMode says why a project config file of this mode is refused, or "" for a regular file.
func refuseMode(mode fs.FileMode) string {
	switch kind := fileKind(mode); {
	case kind == "":
		return ""
	case mode&fs.ModeSymlink != 0:
		return "is a symbolic link; a project config must be a regular file, since a link may point anywhere on this machine: replace the link with the file itself"
	default:
		return "is " + kind + ", not a regular file; remove it, and write the settings to a regular JSON file if the project needs any"
	}
}

// readProjectConfig reads the project config file at path: opened without
// following a symlink and without blocking, then refused unless its open
// descriptor is a regular file of at most MaxProjectConfigBytes. It returns
// fs.ErrNotExist when there is no file, and the descriptor's information
// whenever the file was opened.
func readProjectConfig(path string) ([]byte, fs.FileInfo, error) {
	var ue *UnsafeFileError
	f, err := openProjectConfig(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, err
	case errors.As(err, &ue) && ue.Path == filepath.ToSlash(ProjectConfigFile):
		if strings.HasPrefix(ue.Why, whyLink) {
			return nil, nil, refusedFile(refuseMode(fs.ModeSymlink))
		}
		return nil, nil, refusedFile(ue.Why + "; remove it, and write the settings to a regular JSON file if the project needs any")
	case errors.As(err, &ue):
		return nil, nil, err // a folder on the way is a link: the layout's own refusal
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the message names the file itself, relative to the project
		}
		return nil, nil, refusedFile("could not be opened (" + err.Error() + "); check its permissions")
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, refusedFile("could not be read; check its permissions")
	}
	if rule := refuseMode(fi.Mode()); rule != "" {
		return nil, fi, refusedFile(rule)
	}
	tooBig := func(size int64) error {
		return refusedFile(fmt.Sprintf("is %s bytes, over the %d KiB limit for a project config (a complete one is about 2 KiB): keep only the database_pools settings you change",
			thousands(int(size)), MaxProjectConfigBytes>>10))
	}
	if fi.Size() > MaxProjectConfigBytes {
		return nil, fi, tooBig(fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxProjectConfigBytes+1)) // the file may grow after Stat
	if err != nil {
		return nil, fi, refusedFile("could not be read; check its permissions")
	}
	if len(data) > MaxProjectConfigBytes {
		return nil, fi, tooBig(int64(len(data)))
	}
	return data, fi, nil
}

// openProjectConfig opens the project config at path through the one
// no-follow opener of project files (OpenProjectFile): no link followed, on
// the way or at the end, and a FIFO opened without blocking.
func openProjectConfig(path string) (*os.File, error) {
	l, ok := LayoutOf(path)
	if !ok {
		return nil, fmt.Errorf("%s is not inside a project's %s folder", path, DirName)
	}
	return OpenProjectFile(l, path, os.O_RDONLY, 0)
}

// readConfigFile reads the global config file: a regular file of at most MaxConfigBytes.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	defer f.Close()
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
