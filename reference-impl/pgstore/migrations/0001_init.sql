-- 0001_init: teams, object permissions and virtual keys, in the shape of
-- LiteLLM's LiteLLM_TeamTable, LiteLLM_ObjectPermissionTable and
-- LiteLLM_VerificationToken (same column names where LiteLLM has one), plus
-- the revision every write is stamped with.

-- revision_seq numbers every write (Store revisions: caches version their
-- entries by them). CACHE 1 is essential: with a per-session cache each
-- connection would hand out its own range and revisions would no longer
-- grow across connections and replicas.
CREATE SEQUENCE revision_seq AS bigint MINVALUE 1 CACHE 1;

-- One record per team or key that has an object_permission. Updates
-- rewrite the row in place under the same id (the seed bug's cache key).
CREATE TABLE object_permissions (
    object_permission_id text PRIMARY KEY,
    mcp_servers          text[] NOT NULL DEFAULT '{}',
    mcp_access_groups    text[] NOT NULL DEFAULT '{}',
    mcp_tool_permissions jsonb  NOT NULL DEFAULT '{}',
    vector_stores        text[] NOT NULL DEFAULT '{}',
    agents               text[] NOT NULL DEFAULT '{}',
    agent_access_groups  text[] NOT NULL DEFAULT '{}',
    models               text[] NOT NULL DEFAULT '{}',
    blocked_tools        text[] NOT NULL DEFAULT '{}',
    rev                  bigint NOT NULL
);

CREATE TABLE teams (
    team_id              text PRIMARY KEY,
    team_alias           text,                                -- NULL: no alias
    models               text[] NOT NULL DEFAULT '{}',
    max_budget           double precision,                    -- NULL: no budget
    spend                double precision NOT NULL DEFAULT 0,
    blocked              boolean NOT NULL DEFAULT false,
    metadata             jsonb NOT NULL DEFAULT '{}',
    -- Members as LiteLLM keeps them: a JSON list of {user_id, user_email,
    -- role}, in insertion order, read and written with the team under its
    -- row lock.
    members_with_roles   jsonb NOT NULL DEFAULT '[]',
    -- max_budget_in_team per member (LiteLLM: LiteLLM_TeamMembership +
    -- LiteLLM_BudgetTable); NULL when never set.
    member_budgets       jsonb,
    object_permission_id text CONSTRAINT teams_object_permission_fkey REFERENCES object_permissions,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    rev                  bigint NOT NULL
);
CREATE INDEX teams_object_permission_idx ON teams (object_permission_id);

CREATE TABLE keys (
    token                text PRIMARY KEY,                    -- SHA-256 hex of the secret
    key_name             text NOT NULL DEFAULT '',
    key_alias            text CONSTRAINT keys_alias_unique UNIQUE,  -- NULL: no alias
    team_id              text CONSTRAINT keys_team_fkey REFERENCES teams,
    user_id              text,
    models               text[] NOT NULL DEFAULT '{}',
    max_budget           double precision,
    spend                double precision NOT NULL DEFAULT 0,
    blocked              boolean NOT NULL DEFAULT false,
    expires              timestamptz,                         -- NULL: never
    metadata             jsonb NOT NULL DEFAULT '{}',
    object_permission_id text CONSTRAINT keys_object_permission_fkey REFERENCES object_permissions,
    created_by           text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    created_rev          bigint NOT NULL,                     -- creation order (list order)
    rev                  bigint NOT NULL
);
CREATE INDEX keys_created_rev_idx ON keys (created_rev);
CREATE INDEX keys_team_idx ON keys (team_id, created_rev);
CREATE INDEX keys_user_idx ON keys (user_id, created_rev);
CREATE INDEX keys_object_permission_idx ON keys (object_permission_id);
