package check

import (
	"fmt"
	"io"

	"github.com/anishathalye/porcupine"

	"github.com/keyrace/keyrace/scenarios/history"
)

// Visualize writes porcupine's HTML visualisation (one self-contained
// file) of one team of h: a partition per register, operations described
// in LiteLLM's terms, each violation the classifier found marked as an
// annotation. The history's own consistency mode (Header.Consistency) is
// used; in bounded mode decisions are drawn with their call moved back by
// the bound, as the model checks them.
func Visualize(h history.History, team string, w io.Writer) error {
	mode, err := ParseMode(h.Header.Consistency)
	if err != nil {
		return fmt.Errorf("visualize team %q: %w", team, err)
	}
	in := split(h)
	var pops []porcupine.Operation
	var annotations []porcupine.Annotation
	lanes := 0
	for _, p := range in.parts {
		if p.team != team {
			continue
		}
		var sc scratch // the operations must outlive the loop
		ops := build(&in, p, &sc)
		part := modelOps(ops, nil, mode.Bound, true)
		maxLane := 0
		for i := range part {
			part[i].ClientId += lanes
			maxLane = max(maxLane, part[i].ClientId+1)
		}
		lanes = maxLane
		pops = append(pops, part...)
		for _, v := range classify(p, ops, mode).violations {
			annotations = append(annotations, porcupine.Annotation{
				Tag:             "violations",
				Start:           v.Decision.Call,
				End:             v.Decision.Return,
				Description:     string(v.Kind),
				Details:         fmt.Sprintf("op %d: %s", v.Decision.ID, v.Reason),
				BackgroundColor: "#f4b6b6",
			})
			if v.Missed != nil {
				annotations = append(annotations, porcupine.Annotation{
					Tag:         "violations",
					Start:       v.Missed.Return,
					Description: "missed op " + fmt.Sprint(v.Missed.ID),
					Details:     fmt.Sprintf("acknowledged write missed by op %d", v.Decision.ID),
				})
			}
		}
	}
	if len(pops) == 0 {
		return fmt.Errorf("visualize team %q: no operations for that team in the history", team)
	}
	_, info := porcupine.CheckOperationsVerbose(model, pops, DefaultTimeout)
	info.AddAnnotations(annotations)
	if err := porcupine.Visualize(model, info, w); err != nil {
		return fmt.Errorf("visualize team %q: %w", team, err)
	}
	return nil
}
