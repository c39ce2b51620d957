// Command fakeserver is a small real HTTP server that the managed tests run as a
// child process. It answers GET /health with 200 and misbehaves on request.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	port := flag.Int("port", 0, "port to listen on (127.0.0.1)")
	exitAfter := flag.Duration("exit-after", -1, "exit with -exit-code this long after listening (0: before listening; <0: never)")
	exitCode := flag.Int("exit-code", 3, "exit code for -exit-after")
	once := flag.String("once", "", "apply -exit-after only when this file is missing, and create it")
	failIfExists := flag.String("fail-if-exists", "", "exit 4 at start when this file exists")
	touch := flag.String("touch", "", "create this file at start")
	slowStart := flag.Duration("slow-start", 0, "sleep this long before listening")
	ignoreTerm := flag.Bool("ignore-sigterm", false, "ignore SIGTERM")
	say := flag.String("say", "", "print this line to stderr at start")
	printEnv := flag.Bool("print-env", false, "print the environment to stdout")
	helperPIDFile := flag.String("helper-pidfile", "", "start a helper child process in our group and write its pid here")
	helper := flag.Bool("helper", false, "be the helper: sleep")
	_ = flag.String("data", "", "the data folder (only named on the command line, as a real server's)")
	flag.Parse()

	if *helper {
		time.Sleep(time.Minute)
		return
	}
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	fmt.Fprintf(os.Stderr, "fakeserver pid %d port %d\n", os.Getpid(), *port)
	if *say != "" {
		fmt.Fprintln(os.Stderr, *say)
	}
	if *printEnv {
		for _, kv := range os.Environ() {
			fmt.Println(kv) // stdout-ok: a test child server, not ours; the test reads its environment from here
		}
	}
	if *failIfExists != "" {
		if _, err := os.Stat(*failIfExists); err == nil {
			fmt.Fprintf(os.Stderr, "fatal: %s exists\n", *failIfExists)
			os.Exit(4)
		}
	}
	if *once != "" {
		if _, err := os.Stat(*once); err == nil {
			*exitAfter = -1
		} else if err := os.WriteFile(*once, nil, 0o600); err != nil {
			fatal(err)
		}
	}
	if *touch != "" {
		if err := os.WriteFile(*touch, nil, 0o600); err != nil {
			fatal(err)
		}
	}
	if *helperPIDFile != "" {
		self, err := os.Executable()
		if err != nil {
			fatal(err)
		}
		h := exec.Command(self, "-helper")
		if err := h.Start(); err != nil {
			fatal(err)
		}
		if err := os.WriteFile(*helperPIDFile, []byte(strconv.Itoa(h.Process.Pid)), 0o600); err != nil {
			fatal(err)
		}
	}
	if *exitAfter == 0 {
		os.Exit(*exitCode)
	}
	time.Sleep(*slowStart)

	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		fatal(err)
	}
	if *exitAfter > 0 {
		time.AfterFunc(*exitAfter, func() {
			fmt.Fprintf(os.Stderr, "crashing on purpose with exit code %d\n", *exitCode)
			os.Exit(*exitCode)
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	if err := http.Serve(l, mux); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "fatal:", err)
	os.Exit(1)
}
