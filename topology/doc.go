// Package topology starts multi-replica deployments in Docker for keyrace's
// suites, scenarios and CLI, and disrupts them on purpose.
//
// Two topologies share one layout: a private network (Docker "internal", so
// it has no gateway and no published ports) holding PostgreSQL (alias
// "postgres") and Redis (alias "redis"), and N replicas of the service under
// test joined to that network and to a second, ordinary network that carries
// their published port (4000/tcp, mapped to 127.0.0.1 with a local engine).
//
//   - StartReference: N replicas of keyrace's own reference service, built
//     from this module into a FROM scratch image (keyrace/reference:dev);
//   - StartLiteLLM: N replicas of a LiteLLM image the user names.
//
// Because the replicas publish their port on the ordinary network, cutting a
// replica off the private network (Disconnect) takes PostgreSQL and Redis
// away from it while the harness can still talk to it: exactly the partition
// a cross-replica consistency check wants. PauseRedis freezes Redis; Kill and
// Restart SIGKILL a replica and start it again. Every disruption is recorded
// as a Window so run histories can annotate it.
//
// Every container and network carries the labels org.keyrace.managed=true and
// org.keyrace.run=<run id>; Close removes a topology's, CleanupLeftovers
// removes every managed one (for the start and end of a CI job).
//
// Nothing here pulls silently: Preflight checks the Docker engine and every
// image first and says which image is missing and how to get it
// (`make images` builds the air-gapped keyrace/postgres:15 and
// keyrace/redis:7).
package topology
