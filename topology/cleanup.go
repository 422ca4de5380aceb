package topology

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// CleanupLeftovers force-removes every container and then every network
// labelled org.keyrace.managed=true, whoever created them: topologies of
// runs that were killed before Close, and the single containers other keyrace
// tests label the same way. Images are kept (keyrace/postgres:15 and
// keyrace/redis:7 carry the label too and take minutes to rebuild). Call it
// at the start and end of a CI job, never while other keyrace tests run on
// the same engine. It returns what it removed ("container NAME",
// "network NAME").
func CleanupLeftovers(ctx context.Context) ([]string, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDockerUnavailable, err)
	}
	defer cli.Close()
	return removeLabelled(ctx, cli, LabelManaged+"=true")
}

// removeLabelled force-removes the containers, then the networks, that
// carry label ("key=value").
func removeLabelled(ctx context.Context, cli *testcontainers.DockerClient, label string) ([]string, error) {
	var removed []string
	var errs []error
	filter := make(client.Filters).Add("label", label)
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list containers labelled %s: %w", label, err)
	}
	for _, c := range ctrs.Items {
		name := strings.TrimPrefix(firstOr(c.Names, c.ID), "/")
		_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			removed = append(removed, "container "+name)
		case !cerrdefs.IsNotFound(err):
			errs = append(errs, fmt.Errorf("remove container %s: %w", name, err))
		}
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("list networks labelled %s: %w", label, err))...)
	}
	for _, n := range nets.Items {
		_, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		switch {
		case err == nil:
			removed = append(removed, "network "+n.Name)
		case !cerrdefs.IsNotFound(err):
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	return removed, errors.Join(errs...)
}

// Leftovers lists the containers and networks still carrying label
// ("key=value", for example "org.keyrace.run=1a2b3c4d"), as "container
// NAME" / "network NAME". Tests use it to prove Close left nothing behind.
func Leftovers(ctx context.Context, label string) ([]string, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDockerUnavailable, err)
	}
	defer cli.Close()
	filter := make(client.Filters).Add("label", label)
	var out []string
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list containers labelled %s: %w", label, err)
	}
	for _, c := range ctrs.Items {
		out = append(out, "container "+strings.TrimPrefix(firstOr(c.Names, c.ID), "/"))
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return out, fmt.Errorf("list networks labelled %s: %w", label, err)
	}
	for _, n := range nets.Items {
		out = append(out, "network "+n.Name)
	}
	return out, nil
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}
