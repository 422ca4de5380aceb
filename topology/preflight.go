package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// Preflight checks that the reference topology can start here, with the
// images and binary the environment selects (KEYRACE_POSTGRES_IMAGE,
// KEYRACE_REDIS_IMAGE, KEYRACE_BINARY): the Docker engine answers, every
// image is present or can be pulled (a missing one is pulled now, bounded by
// 5 min), the Go toolchain and this module are there to build keyrace, and
// Ryuk is disabled or its image present. The error names every problem and
// how to fix it; it wraps ErrDockerUnavailable or ErrImageUnavailable.
func Preflight(ctx context.Context) error {
	e, err := connect(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	_, err = e.preflightReference(ctx, ReferenceOptions{}, Timeouts{}.withDefaults(time.Minute), func(string, ...any) {})
	return err
}

// preflightReference resolves the reference topology's images and checks
// that each can be had.
func (e *engine) preflightReference(ctx context.Context, o ReferenceOptions, t Timeouts, logf func(string, ...any)) (Images, error) {
	var im Images
	has := func(img string) bool { ok, _ := e.hasImage(ctx, img); return ok }
	var pgNote, rdNote string
	im.Postgres, pgNote = pickImage(o.PostgresImage, envPostgresImage, DefaultPostgresImage, FallbackPostgresImage, has)
	im.Redis, rdNote = pickImage(o.RedisImage, envRedisImage, DefaultRedisImage, FallbackRedisImage, has)
	im.Notes = append(im.Notes, "postgres: "+pgNote, "redis: "+rdNote)
	errs := []error{
		e.ensureImageBounded(ctx, im.Postgres, imagesHint, t.Pull, logf),
		e.ensureImageBounded(ctx, im.Redis, imagesHint, t.Pull, logf),
		e.ryukCheck(ctx, t.Pull, logf),
	}
	switch {
	case o.Image != "":
		im.Service = o.Image
		errs = append(errs, e.ensureImageBounded(ctx, o.Image, " — build it (see topology/README.md) or leave ReferenceOptions.Image empty to build keyrace here", t.Pull, logf))
	case o.Binary != "" || os.Getenv(envBinary) != "":
		errs = append(errs, checkBinary(orDefault(o.Binary, os.Getenv(envBinary))))
	default:
		if _, err := exec.LookPath("go"); err != nil {
			errs = append(errs, fmt.Errorf("cannot build the keyrace image: no go command on PATH (%v); install Go or set KEYRACE_BINARY to a static linux keyrace binary", err))
		} else if _, err := moduleRoot(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cannot build the keyrace image: %w", err))
		}
	}
	return im, errors.Join(errs...)
}

// preflightLiteLLM resolves the LiteLLM topology's images and checks that
// each can be had.
func (e *engine) preflightLiteLLM(ctx context.Context, o LiteLLMOptions, t Timeouts, logf func(string, ...any)) (Images, error) {
	im := Images{Service: o.Image, Notes: []string{"service: " + o.Image + " (given)"}}
	has := func(img string) bool { ok, _ := e.hasImage(ctx, img); return ok }
	var note string
	im.Postgres, note = pickImage(o.PostgresImage, envPostgresImage, DefaultPostgresImage, FallbackPostgresImage, has)
	im.Notes = append(im.Notes, "postgres: "+note)
	errs := []error{
		e.ensureImageBounded(ctx, o.Image, " — pull it where a registry is reachable and carry it here with `docker save` / `docker load`", t.Pull, logf),
		e.ensureImageBounded(ctx, im.Postgres, imagesHint, t.Pull, logf),
		e.ryukCheck(ctx, t.Pull, logf),
	}
	if o.WithRedis {
		im.Redis, note = pickImage(o.RedisImage, envRedisImage, DefaultRedisImage, FallbackRedisImage, has)
		im.Notes = append(im.Notes, "redis: "+note)
		errs = append(errs, e.ensureImageBounded(ctx, im.Redis, imagesHint, t.Pull, logf))
	}
	return im, errors.Join(errs...)
}

func (e *engine) ensureImageBounded(ctx context.Context, img, hint string, d time.Duration, logf func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return e.ensureImage(ctx, img, hint, logf)
}

// ryukCheck: with Ryuk enabled testcontainers starts its reaper image
// before the first container; without a registry it cannot be pulled.
// keyrace's topologies do not need it (Close and CleanupLeftovers remove
// everything by label).
func (e *engine) ryukCheck(ctx context.Context, d time.Duration, logf func(string, ...any)) error {
	if testcontainers.ReadConfig().RyukDisabled {
		return nil
	}
	return e.ensureImageBounded(ctx, testcontainers.ReaperDefaultImage,
		" — set TESTCONTAINERS_RYUK_DISABLED=true (exactly lower-case; keyrace removes its containers by label, see CleanupLeftovers)", d, logf)
}
