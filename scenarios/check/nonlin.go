package check

import (
	"time"

	"github.com/anishathalye/porcupine"
)

// checkModel is the model without the Partition function: Check hands
// porcupine one partition at a time.
var checkModel = func() porcupine.Model {
	m := model
	m.Partition = nil
	return m
}()

// nonLinearizable builds the violation reported when porcupine proves a
// partition non-linearizable but the classifier, which judges decisions
// one at a time, finds nothing: the evidence points at the first
// operation (by call) outside porcupine's longest partial linearization.
func nonLinearizable(p *part, ops []mop, shift time.Duration, limit time.Duration) Violation {
	v := Violation{
		Kind: NonLinearizable, Team: p.team, Register: p.reg, Expected: []State{},
		Reason: "porcupine found no linearization, although every decision is consistent on its own (decisions see the writes in incompatible orders)",
	}
	_, info := porcupine.CheckOperationsVerbose(checkModel, modelOps(ops, nil, shift, false), limit)
	parts := info.PartialLinearizations()
	if len(parts) == 0 {
		return v
	}
	var longest []int
	for _, l := range parts[0] {
		if len(l) > len(longest) {
			longest = l
		}
	}
	placed := make([]bool, len(ops))
	for _, id := range longest {
		placed[id] = true
	}
	first := -1
	for i := range ops {
		if !placed[i] && (first < 0 || ops[i].call < ops[first].call) {
			first = i
		}
	}
	if first >= 0 {
		v.Decision = *ops[first].op
		v.Replica = ops[first].op.Replica
	}
	return v
}
