package topology

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPickImage(t *testing.T) {
	present := func(imgs ...string) func(string) bool {
		return func(s string) bool {
			for _, i := range imgs {
				if i == s {
					return true
				}
			}
			return false
		}
	}
	cases := []struct {
		name     string
		explicit string
		env      string
		has      func(string) bool
		want     string
		note     string
	}{
		{"official present", "", "", present("postgres:16", "keyrace/postgres:15"), "postgres:16", "present locally"},
		{"air-gapped fallback", "", "", present("keyrace/postgres:15"), "keyrace/postgres:15", "make images"},
		{"nothing: pull the default", "", "", present(), "postgres:16", "to be pulled"},
		{"env wins", "", "local/pg:15", present("postgres:16"), "local/pg:15", "KEYRACE_POSTGRES_IMAGE"},
		{"option wins over env", "mine:1", "local/pg:15", present(), "mine:1", "given"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(envPostgresImage, c.env)
			img, note := pickImage(c.explicit, envPostgresImage, DefaultPostgresImage, FallbackPostgresImage, c.has)
			if img != c.want || !strings.Contains(note, c.note) {
				t.Errorf("got %s (%s), want %s (note mentioning %q)", img, note, c.want, c.note)
			}
		})
	}
}

func TestHostFor(t *testing.T) {
	cases := []struct {
		daemon, override string
		host, bind       string
		local            bool
	}{
		{"unix:///var/run/docker.sock", "", "127.0.0.1", "127.0.0.1", true},
		{"npipe:////./pipe/docker_engine", "", "127.0.0.1", "127.0.0.1", true},
		{"tcp://127.0.0.1:2375", "", "127.0.0.1", "127.0.0.1", true},
		{"tcp://docker.example:2376", "", "docker.example", "", false},
		{"unix:///var/run/docker.sock", "localhost", "127.0.0.1", "127.0.0.1", true},
		{"unix:///var/run/docker.sock", "10.0.0.5", "10.0.0.5", "", false},
	}
	for _, c := range cases {
		host, bind, local := hostFor(c.daemon, c.override)
		if host != c.host || bind != c.bind || local != c.local {
			t.Errorf("hostFor(%q, %q) = %q %q %v, want %q %q %v", c.daemon, c.override, host, bind, local, c.host, c.bind, c.local)
		}
	}
}

func TestGoarchOf(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "s390x": "s390x"} {
		if got := goarchOf(in); got != want {
			t.Errorf("goarchOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWindow(t *testing.T) {
	t0 := time.Now()
	w := Window{Fault: RedisPaused, Replica: NotAReplica, Start: t0}
	if !w.Open() || !w.Contains(t0.Add(time.Hour)) || w.Contains(t0.Add(-time.Millisecond)) {
		t.Errorf("open window %+v misjudged", w)
	}
	w.End = t0.Add(time.Second)
	if w.Open() || !w.Contains(t0.Add(time.Second)) || w.Contains(t0.Add(2*time.Second)) {
		t.Errorf("closed window %+v misjudged", w)
	}
}

func TestWindowBookkeeping(t *testing.T) {
	topo := &Topology{}
	w, err := topo.open(ReplicaKilled, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topo.open(ReplicaKilled, 1); err == nil {
		t.Error("a second kill of a killed replica was accepted")
	}
	if _, err := topo.open(ReplicaKilled, 0); err != nil {
		t.Errorf("killing another replica refused: %v", err)
	}
	if _, err := topo.openWindow(ReplicaDisconnected, 1); err == nil {
		t.Error("reconnecting a replica that was never cut off was accepted")
	}
	got, err := topo.openWindow(ReplicaKilled, 1)
	if err != nil || got != w {
		t.Fatalf("open window lookup: %v %v", got, err)
	}
	closed := topo.end(w)
	if closed.Open() || closed.End.Before(closed.Start) {
		t.Errorf("ended window %+v", closed)
	}
	if ws := topo.Windows(); len(ws) != 2 || ws[0].Open() || !ws[1].Open() {
		t.Errorf("windows %+v", ws)
	}
	topo.abandon(w)
	if ws := topo.Windows(); len(ws) != 1 || ws[0].Replica != 0 {
		t.Errorf("after abandon: %+v", ws)
	}
}

func TestPortPicker(t *testing.T) {
	p := newPortPicker()
	seen := map[string]bool{}
	for range 5 {
		port := p.pick("127.0.0.1")
		n, err := strconv.Atoi(port)
		if err != nil || n < p.low || n > p.high {
			t.Fatalf("picked %q outside [%d, %d]", port, p.low, p.high)
		}
		if seen[port] {
			t.Fatalf("picked %s twice", port)
		}
		seen[port] = true
		// Free: we can bind it ourselves.
		l, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatalf("picked port %s is not free: %v", port, err)
		}
		l.Close()
	}
}

func TestIsPortClash(t *testing.T) {
	if !isPortClash(errors.New("Bind for 127.0.0.1:23001 failed: port is already allocated")) || isPortClash(errors.New("no such image")) || isPortClash(nil) {
		t.Error("isPortClash misjudged")
	}
}

func TestCheckBinary(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "keyrace")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkBinary(notELF); err == nil || !strings.Contains(err.Error(), "not a linux executable") {
		t.Errorf("a shell script passed as the keyrace binary: %v", err)
	}
	if err := checkBinary(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing binary was accepted")
	}
}
