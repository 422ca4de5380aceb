package topology

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// dockerfile is the reference image's recipe, shared with
// docker-compose.yml: the binary plus its hash as a label.
//
//go:embed image/Dockerfile
var dockerfile []byte

const modulePath = "github.com/keyrace/keyrace"

// referenceImage returns the keyrace image to run: o.Image as is, else an
// image built from o.Binary / $KEYRACE_BINARY / a fresh `go build`, reusing
// an existing image whose binary hash label matches. built says whether an
// image was built now.
func (e *engine) referenceImage(ctx context.Context, o ReferenceOptions, logf func(string, ...any), log io.Writer) (img string, built bool, err error) {
	if o.Image != "" {
		return o.Image, false, nil
	}
	dir, err := os.MkdirTemp("", "keyrace-image-")
	if err != nil {
		return "", false, fmt.Errorf("build context: %w", err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "keyrace")
	if src := orDefault(o.Binary, os.Getenv(envBinary)); src != "" {
		if err := checkBinary(src); err != nil {
			return "", false, err
		}
		if err := copyFile(src, bin); err != nil {
			return "", false, fmt.Errorf("build context: %w", err)
		}
		logf("keyrace binary: %s (given)", src)
	} else {
		root, err := moduleRoot(ctx)
		if err != nil {
			return "", false, err
		}
		if err := goBuild(ctx, root, bin, e.goarch); err != nil {
			return "", false, err
		}
		if err := checkBinary(bin); err != nil {
			return "", false, err
		}
	}
	sum, err := fileSHA256(bin)
	if err != nil {
		return "", false, err
	}
	tag := ReferenceRepo + ":" + sum[:12]
	if existing, err := e.imageWithBinary(ctx, sum); err != nil {
		return "", false, err
	} else if existing != "" {
		// The same binary is already in an image: make sure both tags point
		// at it (the hash tag may have been removed by hand) and reuse it.
		for _, t := range []string{tag, ReferenceRepo + ":dev"} {
			if _, err := e.cli.ImageTag(ctx, client.ImageTagOptions{Source: existing, Target: t}); err != nil {
				return "", false, fmt.Errorf("tag %s: %w", t, err)
			}
		}
		logf("keyrace image: %s (binary sha256 %s already built)", tag, sum[:12])
		return tag, false, nil
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), dockerfile, 0o644); err != nil {
		return "", false, fmt.Errorf("build context: %w", err)
	}
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(logger(log)))
	if err != nil {
		return "", false, fmt.Errorf("%w: %w", ErrDockerUnavailable, err)
	}
	defer p.Close()
	_, err = p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context:        dir,
		Repo:           ReferenceRepo,
		Tag:            sum[:12],
		KeepImage:      true,
		BuildArgs:      map[string]*string{"KEYRACE_BINARY_SHA256": &sum},
		BuildLogWriter: orDiscard(log),
		// Tags set here follow the Repo:Tag above; the classic builder is
		// used (no BuilderVersion), so FROM scratch pulls nothing.
		BuildOptionsModifier: func(b *client.ImageBuildOptions) { b.Tags = []string{ReferenceRepo + ":dev"} },
	}})
	if err != nil {
		return "", false, fmt.Errorf("build keyrace image: %w", err)
	}
	logf("keyrace image: %s built (binary sha256 %s)", tag, sum[:12])
	return tag, true, nil
}

// imageWithBinary returns the id of a finished keyrace image labelled with
// the binary hash sum, or "". The classic builder leaves an image after
// every step; one that is not the last (no entrypoint yet) may show up
// while another process is building the same binary, and is skipped.
func (e *engine) imageWithBinary(ctx context.Context, sum string) (string, error) {
	res, err := e.cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", LabelBinarySHA256+"="+sum)})
	if err != nil {
		return "", fmt.Errorf("list keyrace images: %w", err)
	}
	for _, it := range res.Items {
		in, err := e.cli.ImageInspect(ctx, it.ID)
		if err != nil {
			continue // removed meanwhile
		}
		if c := in.Config; c != nil && slices.Equal(c.Entrypoint, []string{"/keyrace"}) {
			return it.ID, nil
		}
	}
	return "", nil
}

// moduleRoot finds the keyrace module from the working directory with
// `go env GOMOD` and checks that it is keyrace.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the keyrace module (go env GOMOD is empty): run from the keyrace checkout or set KEYRACE_BINARY")
	}
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			if strings.Trim(strings.TrimSpace(mod), `"`) != modulePath {
				return "", fmt.Errorf("%s is module %s, not %s: run from the keyrace checkout or set KEYRACE_BINARY", gomod, mod, modulePath)
			}
			return filepath.Dir(gomod), nil
		}
	}
	return "", fmt.Errorf("%s has no module line", gomod)
}

// goBuild compiles ./cmd/keyrace statically for linux/goarch into out.
// -buildvcs=false keeps the binary (and so its hash and image) the same
// across commits that do not change it, and needs no git.
func goBuild(ctx context.Context, root, out, goarch string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-o", out, "./cmd/keyrace")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build keyrace (CGO_ENABLED=0 go build -trimpath ./cmd/keyrace in %s): %w\n%s", root, err, stderr.String())
	}
	return nil
}

// checkBinary refuses what cannot run in a FROM scratch image: non-ELF
// files and dynamically linked binaries.
func checkBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("keyrace binary %s: not a linux executable: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("keyrace binary %s is dynamically linked and cannot run in a scratch image: build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// UsableBinary reports whether path is a keyrace binary that can run in
// the scratch image (a static linux executable), so a CLI can offer itself.
func UsableBinary(path string) error { return checkBinary(path) }
