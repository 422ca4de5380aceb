package suites

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/keyrace/keyrace/client"
	"github.com/keyrace/keyrace/wire"
)

var keyFeatures = []FeatureName{FeatureTeams, FeatureKeys}

func init() {
	Register(Spec{
		Name: "ConformanceKeyMaterial", Tier: Conformance, Profile: Core, Features: keyFeatures,
		Description: "a generated key is sk-…, only its SHA-256 is the token, and key_name abbreviates it",
		Run: func(ctx context.Context, env *Env) {
			team := env.CreateTeam(ctx, wire.NewTeamRequest{})
			k := env.GenerateKey(ctx, env.Writer(), wire.GenerateKeyRequest{TeamID: team.TeamID, KeyAlias: env.ID("alias")})
			sum := sha256.Sum256([]byte(k.Key))
			Expect(k.Key).To(HavePrefix("sk-"))
			Expect(k.Token).To(Equal(hex.EncodeToString(sum[:])), "token must be sha256(key)")
			Expect(k.Token).NotTo(Equal(k.Key))
			Expect(k.KeyName).To(Equal("sk-..."+k.Key[len(k.Key)-4:]), "key_name")
			Expect(k.TeamID).To(HaveValue(Equal(team.TeamID)))
		},
	})
	Register(Spec{
		Name: "ConformanceKeyInfoAndDelete", Tier: Conformance, Profile: Core, Features: keyFeatures,
		Description: "/key/info finds a key by secret and by hash; after /key/delete it is 404 and the key no longer authenticates",
		Run: func(ctx context.Context, env *Env) {
			team := env.CreateTeam(ctx, wire.NewTeamRequest{})
			k := env.GenerateKey(ctx, env.Writer(), wire.GenerateKeyRequest{TeamID: team.TeamID})
			for _, q := range []string{k.Key, k.Token} {
				info, ex, err := env.Writer().KeyInfo(ctx, q)
				Must(err, ex, "key/info?key=%s", q)
				Expect(info.Key).To(Equal(q))
				Expect(info.Info.TeamID).To(HaveValue(Equal(team.TeamID)))
			}
			del, ex, err := env.Writer().DeleteKeys(ctx, k.Key)
			Must(err, ex, "key/delete")
			Expect(del.DeletedKeys).To(ConsistOf(k.Key))
			_, ex, err = env.Decider().KeyInfo(ctx, k.Key)
			expectStatus(err, ex, http.StatusNotFound)
			_, ex, err = env.Decider().WithKey(k.Key).KeyInfo(ctx, "")
			expectStatus(err, ex, http.StatusUnauthorized)
		},
	})
	Register(Spec{
		Name: "ConformanceAuthErrors", Tier: Conformance, Profile: Core, Features: keyFeatures,
		Description: "missing, malformed and unknown keys get 401 with LiteLLM's messages in a known envelope",
		Run: func(ctx context.Context, env *Env) {
			base := env.Writer().BaseURL()
			cases := []struct {
				header, value, message string
			}{
				{"", "", "No api key passed in"},
				{"Authorization", "Token sk-1234", "Malformed API Key passed in"},
				{"Authorization", "Bearer sk-keyrace-unknown-" + env.RunID, "Invalid proxy server token passed"},
			}
			for _, c := range cases {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/key/info", nil)
				if c.header != "" {
					req.Header.Set(c.header, c.value)
				}
				resp, err := env.Writer().HTTP().Do(req)
				if err != nil {
					Must(fmt.Errorf("GET /key/info: %w: %w", client.ErrUnreachable, err), nil, "401 for %s %q", c.header, c.value)
				}
				body := readBody(resp)
				e := client.ParseError(resp.StatusCode, body)
				Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), "%s %q: %s", c.header, c.value, body)
				Expect(e.Variant).NotTo(Equal(client.VariantUnparsed), "envelope: %s", body)
				Expect(e.Message).To(ContainSubstring(c.message), "%s", body)
			}
		},
	})
	Register(Spec{
		Name: "ConformanceAdminOnlyRoutes", Tier: Conformance, Profile: Core, Features: keyFeatures,
		Description: "a virtual key that is not an admin is refused /team/new, /team/update and /team/delete",
		Run: func(ctx context.Context, env *Env) {
			team := env.CreateTeam(ctx, wire.NewTeamRequest{})
			k := env.GenerateKey(ctx, env.Writer(), wire.GenerateKeyRequest{UserID: env.ID("user")})
			kc := env.Writer().WithKey(k.Key)
			_, ex, err := kc.NewTeam(ctx, wire.NewTeamRequest{TeamID: env.ID("team")})
			expectRefused(err, ex)
			_, ex, err = kc.UpdateTeam(ctx, wire.UpdateTeamRequest{TeamID: team.TeamID, TeamAlias: wire.Some("x")})
			expectRefused(err, ex)
			ex, err = kc.DeleteTeams(ctx, team.TeamID)
			expectRefused(err, ex)
			info, ex, err := env.Writer().TeamInfo(ctx, team.TeamID)
			Must(err, ex, "team/info")
			Expect(deref(info.TeamInfo.TeamAlias)).NotTo(Equal("x"), "a refused update changed the team")
			_, _, _ = env.Writer().DeleteKeys(ctx, k.Key)
		},
	})
}

// expectStatus asserts an API error with this status in a known envelope.
func expectStatus(err error, ex *client.Exchange, status int) *client.APIError {
	GinkgoHelper()
	ae, ok := client.AsAPIError(err)
	Expect(ok).To(BeTrue(), "want HTTP %d, got %v\n%s", status, err, Evidence(ex))
	Expect(ae.Status).To(Equal(status), Evidence(ex))
	Expect(ae.Variant).NotTo(Equal(client.VariantUnparsed), "unknown error envelope\n%s", Evidence(ex))
	return ae
}

// expectRefused asserts a 401 or 403 (LiteLLM 1.83 answers 401 for
// admin-only routes, newer builds 403 for some).
func expectRefused(err error, ex *client.Exchange) {
	GinkgoHelper()
	ae, ok := client.AsAPIError(err)
	Expect(ok).To(BeTrue(), "a non-admin key was allowed\n%s", Evidence(ex))
	Expect(ae.Status).To(BeElementOf(401, 403), Evidence(ex))
}

func readBody(resp *http.Response) []byte {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return b
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
