package scenarios

import (
	"io"
	"net/http"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Flows: Vegeta cannot chain requests (a targeter never sees a response),
// so writes go through Vegeta and the decision that must see a write is
// fired from the results loop, the moment the write's result arrives,
// with the same http.Client. The results loop hands it to a goroutine at
// once, so the decision leaves within microseconds of the write's
// acknowledgement; it is recorded like any other operation and its
// vegeta.Result, built here, is encoded with the others. Own paced
// workers would have chained too, but then writes would not be Vegeta's
// traffic (no pacers, no results.bin), and the results loop is where the
// acknowledgement is first known anyway.

// fireFlows sends the flow decisions of an acknowledged write: Decisions
// in rotation, on the replicas after the writer's first (so that a write
// through one replica is decided on another), asking for what the write
// granted or revoked.
func (e *engine) fireFlows(w *pending) {
	sc := e.st.sc
	if sc.FlowDecisions == 0 {
		return
	}
	select {
	case <-e.stop:
		return
	default:
	}
	t := w.team
	nrep := len(e.st.Targets)
	for i := range sc.FlowDecisions {
		kind := sc.Decisions[i%len(sc.Decisions)]
		replica := (w.op.Replica + 1 + i) % nrep
		t.mu.Lock()
		// Flows count against the team's decisions in flight (so paced
		// decisions back off) but are never refused: they are the point.
		t.decisions++
		p := e.decisionOp(t, StreamFlow, replica, kind, w.write.Item)
		t.mu.Unlock()
		e.rec.start(p)
		e.flows.Add(1)
		go e.sendFlow(p)
	}
}

// sendFlow sends one flow decision and records it with a vegeta.Result
// built the way Vegeta's hit builds one.
func (e *engine) sendFlow(p *pending) {
	defer e.flows.Done()
	var tgt vegeta.Target
	e.fill(&tgt, p)
	seq := e.flowSeq.Add(1) - 1
	res := &vegeta.Result{Attack: string(StreamFlow), Seq: seq, Method: tgt.Method, URL: tgt.URL}
	req, err := tgt.Request()
	// p.op.Call was taken when the flow was fired, a little earlier than
	// now: an earlier call only widens the operation, which is safe.
	start := time.Now()
	res.Timestamp = start
	if err == nil {
		req.Header.Set("X-Vegeta-Attack", string(StreamFlow))
		req.Header.Set("X-Vegeta-Seq", strconv.FormatUint(seq, 10))
		res.BytesOut = uint64(len(tgt.Body))
		var resp *http.Response
		if resp, err = e.hc.Do(req); err == nil {
			res.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
			}
			resp.Body.Close()
			if err == nil {
				res.Code = uint16(resp.StatusCode)
				res.BytesIn = uint64(len(res.Body))
				if res.Code < 200 || res.Code >= 400 {
					res.Error = resp.Status
				}
			}
		}
	}
	res.Latency = time.Since(start)
	if err != nil {
		res.Code, res.Error = 0, err.Error()
	}
	e.complete(p, res)
}
