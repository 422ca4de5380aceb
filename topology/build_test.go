package topology

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUnfinishedImageIsNotReused: an image that carries a binary's hash
// label but no entrypoint (what a concurrent classic build leaves after an
// early step) must not be taken for the finished keyrace image.
func TestUnfinishedImageIsNotReused(t *testing.T) {
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Preflight(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	e, err := connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	sum := "test" + strconv.FormatInt(time.Now().UnixNano(), 16)
	tag := "keyrace/reference-unfinished:" + sum[len(sum)-12:]
	build := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, "-")
	build.Stdin = strings.NewReader("FROM scratch\nLABEL " + LabelManaged + "=true " + LabelBinarySHA256 + "=" + sum + "\n")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("docker build of a label-only image: %v: %s", err, out)
	}
	defer exec.Command("docker", "rmi", "-f", tag).Run()
	id, err := e.imageWithBinary(ctx, sum)
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		t.Fatalf("the unfinished image %s was taken for the keyrace image", id)
	}
}
