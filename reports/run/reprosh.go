package run

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/keyrace/keyrace/scenarios/check"
	"github.com/keyrace/keyrace/scenarios/history"
	"github.com/keyrace/keyrace/wire"
)

// Sentinels stand for the script's fresh team id and the team key inside
// rebuilt requests; shArg turns them into shell variables.
const (
	teamSentinel = "@@KEYRACE_TEAM@@"
	keySentinel  = "@@KEYRACE_KEY@@"
)

// Repro returns repro.sh for violation v of h: a bash script of curl calls
// that replays the violation on a fresh team and prints REPRODUCED (exit
// 1) or "not reproduced" (exit 0); 125 when it cannot run (git bisect run
// convention). It reads KEYRACE_TARGET (comma-separated base URLs; replica
// i of the run is URL i modulo their count; default the run's targets) and
// KEYRACE_MASTER_KEY.
func Repro(h history.History, v check.Violation) []byte {
	p := newPlan(h, v)
	var b bytes.Buffer
	s := &script{b: &b}
	s.header(h, p)
	s.prelude(h)
	switch {
	case p.why != "":
		s.l(`echo "keyrace cannot reproduce this violation with a request sequence:"`)
		s.l("echo %s", sq("  "+p.why))
		s.l("exit 125")
	case v.Register == check.Members:
		s.members(p)
	default:
		s.permissions(p)
	}
	return b.Bytes()
}

type script struct {
	b    *bytes.Buffer
	step int
}

func (s *script) l(format string, args ...any) { fmt.Fprintf(s.b, format+"\n", args...) }

func (s *script) header(h history.History, p plan) {
	v := p.v
	s.l("#!/usr/bin/env bash")
	s.l("# keyrace repro: %s on team %s (decision op %d), run %q seed %d.", v.Kind, oneLine(v.Team), v.Decision.ID, oneLine(h.Header.Scenario), h.Header.Seed)
	s.l("# %s", oneLine(v.Reason))
	s.l("#")
	if v.Register == check.Members {
		s.l("# Fires concurrent member adds to a fresh team, then reads its members: every")
		s.l("# acknowledged add must be there.")
	} else {
		s.l("# Creates a fresh team in the state the decision relied on, warms the caches with")
		s.l("# decisions as the run did, performs the acknowledged write, then at once the decision.")
	}
	s.l("# The history keeps what each request meant, not its bytes: requests are rebuilt.")
	s.l("#")
	s.l("# Usage: KEYRACE_TARGET=url[,url...] KEYRACE_MASTER_KEY=key bash repro.sh")
	s.l("#   KEYRACE_TARGET      replica base URLs, comma-separated; the run's replica i is URL i modulo")
	s.l("#                       their count (default: the run's targets)")
	s.l("#   KEYRACE_MASTER_KEY  the proxy's master key")
	s.l("# Exit status: 1 REPRODUCED, 0 not reproduced, 125 could not run (as git bisect run expects).")
	s.l("# The team and keys it creates are deleted on exit.")
}

func (s *script) prelude(h history.History) {
	def := strings.Join(h.Header.Target, ",")
	if def == "" {
		def = "http://127.0.0.1:4000"
	}
	s.l("set -uo pipefail")
	s.l("")
	s.l("RUN_TARGETS=%s", sq(def))
	s.l(`IFS=, read -r -a URLS <<< "${KEYRACE_TARGET:-$RUN_TARGETS}"`)
	s.l(`MASTER_KEY="${KEYRACE_MASTER_KEY:-}"`)
	s.l(`if [ -z "$MASTER_KEY" ]; then echo "set KEYRACE_MASTER_KEY to the proxy's master key" >&2; exit 125; fi`)
	s.l(`if [ "${#URLS[@]}" -eq 0 ]; then echo "KEYRACE_TARGET names no URL" >&2; exit 125; fi`)
	s.l(`command -v curl >/dev/null || { echo "curl is required" >&2; exit 125; }`)
	s.l(`TEAM="keyrace-repro-$(date +%%s)-$RANDOM"`)
	s.l(`TEAM_KEY=""`)
	s.l(`KEYS=()`)
	s.l(`TMP="$(mktemp -d)"`)
	s.l("")
	s.l(`# url I: base URL of the run's replica I.`)
	s.l(`url() { local u="${URLS[$(( $1 %% ${#URLS[@]} ))]}"; echo "${u%%/}"; }`)
	s.l(`# req NAME METHOD REPLICA PATH AUTH [BODY]: one request; prints the status (000: no answer),`)
	s.l(`# keeps the body in $TMP/NAME.`)
	s.l(`req() {`)
	s.l(`  local args=(-sS -o "$TMP/$1" -w '%%{http_code}' --max-time 30 -X "$2" -H "Authorization: Bearer $5")`)
	s.l(`  if [ -n "${6-}" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$6"); fi`)
	s.l(`  curl "${args[@]}" "$(url "$3")$4" 2>"$TMP/$1.err" || true`)
	s.l(`}`)
	s.l(`# show STATUS NAME: print a response.`)
	s.l(`show() { printf '     -> HTTP %%s %%s\n' "$1" "$(head -c 1000 "$TMP/$2" 2>/dev/null; cat "$TMP/$2.err" 2>/dev/null)"; }`)
	s.l(`# keyof NAME: the "key" of a /key/generate answer.`)
	s.l(`keyof() { grep -o '"key"[[:space:]]*:[[:space:]]*"[^"]*"' "$TMP/$1" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/'; }`)
	s.l(`# models NAME: the model ids of a /v1/models answer, one per line.`)
	s.l(`models() { grep -o '"id"[[:space:]]*:[[:space:]]*"[^"]*"' "$TMP/$1" | sed 's/.*"\([^"]*\)"$/\1/'; }`)
	s.l(`ok() { [[ $1 == 2?? ]]; }`)
	s.l(`cannot() { echo "could not run: $1" >&2; exit 125; }`)
	s.l(`cleanup() {`)
	s.l(`  if [ "${#KEYS[@]}" -gt 0 ]; then`)
	s.l(`    local list; list=$(printf '"%%s",' "${KEYS[@]}")`)
	s.l(`    req cleanup-keys POST 0 /key/delete "$MASTER_KEY" "{\"keys\":[${list%%,}]}" >/dev/null`)
	s.l(`  fi`)
	s.l(`  req cleanup-team POST 0 /team/delete "$MASTER_KEY" "{\"team_ids\":[\"$TEAM\"]}" >/dev/null`)
	s.l(`  rm -rf "$TMP"`)
	s.l(`}`)
	s.l(`trap cleanup EXIT`)
	s.l("")
}

// say prints a numbered step.
func (s *script) say(text string) {
	s.step++
	s.l("echo %s", shArg(fmt.Sprintf("%d. %s", s.step, text)))
}

// send emits one request of op (rebuilt), prints it and its answer, and
// remembers a generated key for deletion.
func (s *script) send(name string, op history.Op, d dim) {
	op.Team = teamSentinel
	r := requestOf(op, d)
	auth := `"$MASTER_KEY"`
	if r.TeamKey {
		auth = `"$TEAM_KEY"`
	}
	if r.KeyField {
		r.Body[0].v = keySentinel
	}
	path := r.Path
	if len(r.Query) > 0 {
		path += "?" + r.Query.Encode()
		path = strings.ReplaceAll(path, "%40%40KEYRACE_TEAM%40%40", teamSentinel)
	}
	shown := strings.ReplaceAll(r.String(), "<a key of team "+teamSentinel+">", keySentinel)
	shown = strings.ReplaceAll(shown, "%40%40KEYRACE_TEAM%40%40", teamSentinel)
	s.l("echo %s", shArg(fmt.Sprintf("   %s -> %s", shown, urlWord(op.Replica))))
	line := fmt.Sprintf("st=$(req %s %s %d %s %s", name, r.Method, op.Replica, shArg(path), auth)
	if r.Body != nil {
		line += " " + shArg(r.Body.json())
	}
	s.l("%s); show \"$st\" %s", line, name)
	if r.Path == "/key/generate" {
		s.l(`if ok "$st"; then k=$(keyof %s); [ -n "$k" ] && KEYS+=("$k"); fi`, name)
	}
}

func urlWord(replica int) string { return fmt.Sprintf("replica %d", replica) }

func (s *script) permissions(p plan) {
	d := p.dim
	create := obj{{"team_id", teamSentinel}, {"team_alias", teamSentinel}}
	if d == dimModels {
		create = append(create, field{"models", nonNil(p.beforeList)})
	} else {
		create = append(create, field{"object_permission", obj{{d.field(), nonNil(p.beforeList)}}})
	}
	s.say(fmt.Sprintf("create team %s %s", teamSentinel, listText(d, p.beforeList)))
	s.l("st=$(req create POST 0 /team/new \"$MASTER_KEY\" %s); show \"$st\" create", shArg(create.json()))
	s.l(`ok "$st" || cannot "create team: HTTP $st"`)
	if needsKey(p) {
		s.say("generate a key of the team (the decisions use it)")
		s.l(`st=$(req teamkey POST 0 /key/generate "$MASTER_KEY" %s); show "$st" teamkey`, shArg(obj{{"team_id", teamSentinel}}.json()))
		s.l(`ok "$st" || cannot "generate a key of the team: HTTP $st"`)
		s.l(`TEAM_KEY=$(keyof teamkey); [ -n "$TEAM_KEY" ] || cannot "no key in the /key/generate answer"; KEYS+=("$TEAM_KEY")`)
	}
	if p.beforeBlocked {
		s.say("block the team")
		s.l(`st=$(req block POST 0 /team/block "$MASTER_KEY" %s); show "$st" block`, shArg(obj{{"team_id", teamSentinel}}.json()))
		s.l(`ok "$st" || cannot "block team: HTTP $st"`)
	}
	warmText := "warm the caches with %d decisions, as the run did"
	if len(p.warm) == 1 {
		warmText = "warm the caches with %d decision, as the run did"
	}
	s.say(fmt.Sprintf(warmText, len(p.warm)))
	for i, w := range p.warm {
		s.send(fmt.Sprintf("warm%d", i+1), w, d)
	}
	if p.write != nil {
		s.say(fmt.Sprintf("write: %s (op %d, acknowledged in the run)", writeText(d, *p.write), p.write.ID))
		s.send("write", *p.write, d)
		s.l(`ok "$st" || cannot "the write was not acknowledged: HTTP $st"`)
	}
	s.say(fmt.Sprintf("decision, at once (op %d in the run): the team now %s%s, so it must be %s",
		p.decision.ID, stateWords(d, p.afterList), blockedText(p.afterBlocked), allowWord(p.wantAllowed)))
	s.send("decide", p.decision, d)
	s.judgeDecision(p)
}

func (s *script) judgeDecision(p plan) {
	ask := p.decision.Ask
	s.l(`case "$st" in`)
	if p.decision.Endpoint == "/v1/models" && p.askMatters() {
		s.l(`  2??) if models decide | grep -Fxq -- %s; then got=granted; else got=refused; fi ;;`, sq(ask))
	} else {
		s.l(`  2??) got=granted ;;`)
	}
	s.l(`  401|403) got=refused ;;`)
	s.l(`  *) cannot "the decision answered HTTP $st, neither a grant nor a refusal" ;;`)
	s.l(`esac`)
	want := "refused"
	if p.wantAllowed {
		want = "granted"
	}
	what := "the decision"
	if ask != "" {
		what += " for " + wire.PyStr(ask)
	}
	if p.v.Kind == check.StaleDeny && p.v.Observed != nil && !p.v.Observed.Blocked {
		// A refusal can be right and still stale: the list it prints is the
		// team's state before the acknowledged write. That is the violation.
		s.l(`if [ "$got" = refused ] && grep -Fq -- %s "$TMP/decide"; then`, sq("Team allows: "+wire.PyList(p.beforeList)))
		s.l(`  echo %s`, sq(fmt.Sprintf("REPRODUCED: %s: %s was refused printing Team allows: %s, the team's state before the acknowledged write", p.v.Kind, what, wire.PyList(p.beforeList))))
		s.l(`  exit 1`)
		s.l(`fi`)
	}
	state := "the acknowledged state"
	if p.write == nil {
		state = "the team's state"
	}
	s.l(`if [ "$got" != %s ]; then`, want)
	s.l(`  echo %s`, sq(fmt.Sprintf("REPRODUCED: %s: %s was ", p.v.Kind, what))+`"$got"`+sq(fmt.Sprintf(" although %s requires it %s", state, want)))
	s.l(`  exit 1`)
	s.l(`fi`)
	s.l(`echo %s`, sq(fmt.Sprintf("not reproduced: %s was %s, as %s requires", what, want, state)))
	s.l(`exit 0`)
}

func (s *script) members(p plan) {
	s.say(fmt.Sprintf("create team %s", teamSentinel))
	s.l("st=$(req create POST 0 /team/new \"$MASTER_KEY\" %s); show \"$st\" create", shArg(obj{{"team_id", teamSentinel}, {"team_alias", teamSentinel}}.json()))
	s.l(`ok "$st" || cannot "create team: HTTP $st"`)
	reps := make([]string, len(p.addReplicas))
	for i, r := range p.addReplicas {
		reps[i] = fmt.Sprint(r)
	}
	s.say(fmt.Sprintf("up to %d rounds of %d member adds at once (& and wait) on replicas %s as in the run, each followed by a read (op %d in the run): every acknowledged add must be there",
		memberRounds, p.adds, strings.Join(reps, ","), p.decision.ID))
	s.l(`# A lost update needs the adds to overlap inside the proxy; one round usually`)
	s.l(`# suffices, a few more make a miss on a slow machine unlikely.`)
	s.l(`ADD_REPLICAS=(%s)`, strings.Join(reps, " "))
	s.l(`N=%d`, p.adds)
	s.l(`ROUNDS=%d`, memberRounds)
	s.l(`acked=()`)
	s.l(`for round in $(seq 1 "$ROUNDS"); do`)
	s.l(`  for i in $(seq 1 "$N"); do`)
	s.l(`    r=${ADD_REPLICAS[$(( (i - 1) %% ${#ADD_REPLICAS[@]} ))]}`)
	s.l(`    body="{\"team_id\":\"$TEAM\",\"member\":{\"user_id\":\"$TEAM-r$round-m$i\",\"role\":\"user\"}}"`)
	s.l(`    ( req "add$round-$i" POST "$r" /team/member_add "$MASTER_KEY" "$body" > "$TMP/add$round-$i.status" ) &`)
	s.l(`  done`)
	s.l(`  wait`)
	s.l(`  codes=""`)
	s.l(`  for i in $(seq 1 "$N"); do`)
	s.l(`    st=$(cat "$TMP/add$round-$i.status"); codes+=" $st"`)
	s.l(`    if ok "$st"; then acked+=("$TEAM-r$round-m$i"); fi`)
	s.l(`  done`)
	s.l(`  echo "   round $round: member adds answered$codes"`)
	s.l(`  [ "${#acked[@]}" -gt 0 ] || cannot "no member add was acknowledged"`)
	read := p.decision
	read.Team = teamSentinel
	r := requestOf(read, dimAccessGroups)
	path := strings.ReplaceAll(r.Path+"?"+r.Query.Encode(), "%40%40KEYRACE_TEAM%40%40", teamSentinel)
	s.l(`  st=$(req read GET %d %s "$MASTER_KEY")`, read.Replica, shArg(path))
	s.l(`  ok "$st" || { show "$st" read; cannot "read members: HTTP $st"; }`)
	s.l(`  missing=()`)
	s.l(`  for m in "${acked[@]}"; do grep -Fq -- "\"$m\"" "$TMP/read" || missing+=("$m"); done`)
	s.l(`  if [ "${#missing[@]}" -gt 0 ]; then`)
	s.l(`    show "$st" read`)
	s.l(`    echo "REPRODUCED: lost-update: ${#missing[@]} of ${#acked[@]} acknowledged member adds are missing from %s: ${missing[*]}"`, "GET "+r.Path)
	s.l(`    exit 1`)
	s.l(`  fi`)
	s.l(`  echo "   round $round: all ${#acked[@]} acknowledged members are in the team"`)
	s.l(`done`)
	s.l(`show "$st" read`)
	s.l(`echo "not reproduced: all ${#acked[@]} acknowledged member adds are in the team after $ROUNDS rounds"`)
	s.l(`exit 0`)
}

func needsKey(p plan) bool {
	for _, op := range append(slices.Clone(p.warm), p.decision) {
		op.Team = teamSentinel
		if r := requestOf(op, p.dim); r.TeamKey || r.KeyField {
			return true
		}
	}
	return false
}

func listText(d dim, l []string) string {
	if d == dimModels {
		return "with models " + wire.PyList(l)
	}
	return "allowing " + d.field() + " " + wire.PyList(l)
}

// stateWords is "allows mcp_access_groups ['G1']" or "has models [...]".
func stateWords(d dim, l []string) string {
	if d == dimModels {
		return "has models " + wire.PyList(l)
	}
	return "allows " + d.field() + " " + wire.PyList(l)
}

func writeText(d dim, op history.Op) string {
	switch op.Kind {
	case history.Block:
		return "block the team"
	case history.Unblock:
		return "unblock the team"
	}
	if d == dimModels {
		return "set the team's models to " + wire.PyList(op.Groups)
	}
	return "set the team's " + d.field() + " to " + wire.PyList(op.Groups)
}

func blockedText(b bool) string {
	if b {
		return " and is blocked"
	}
	return ""
}

func allowWord(b bool) string {
	if b {
		return "granted"
	}
	return "refused"
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// shArg quotes s as one shell word, with the sentinels expanded to "$TEAM"
// and "$TEAM_KEY".
func shArg(s string) string {
	var b strings.Builder
	for s != "" {
		i, j := strings.Index(s, teamSentinel), strings.Index(s, keySentinel)
		sent, repl := teamSentinel, `"$TEAM"`
		if j >= 0 && (i < 0 || j < i) {
			i, sent, repl = j, keySentinel, `"$TEAM_KEY"`
		}
		if i < 0 {
			b.WriteString(sq(s))
			break
		}
		if i > 0 {
			b.WriteString(sq(s[:i]))
		}
		b.WriteString(repl)
		s = s[i+len(sent):]
	}
	if b.Len() == 0 {
		return "''"
	}
	return b.String()
}

// sq single-quotes s for the shell.
func sq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }
