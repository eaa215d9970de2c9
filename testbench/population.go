package testbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"quietzone/testbench/scenario"
)

// PopulationOptions say where a population's transcript and truth go.
type PopulationOptions struct {
	// Wire and Truth receive the observer's transcript and the truth, one
	// JSON object a line, trip after trip in the population's order;
	// either may be nil.
	Wire, Truth io.Writer
	// Workers is how many chains run at once; GOMAXPROCS when zero.
	Workers int
	// Progress, when set, is called after each trip.
	Progress func(done, total int)
	// Broken, when set, is called with each trip that broke a leak
	// invariant, in trip order.
	Broken func(rep *Report)
}

// PopulationResult sums up a population's run.
type PopulationResult struct {
	Trips int
	// Violations counts trips that broke a leak invariant.
	Violations int
	Messages   int
}

// RunPopulation drives every trip of p, its chains in parallel (the trips
// of a chain one after another on one state directory: one vehicle),
// and writes what the broker received and the truth, in trip order.
func RunPopulation(ctx context.Context, p scenario.Population, o PopulationOptions) (PopulationResult, error) {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	type out struct {
		rep *Report
		err error
	}
	outs := make([]chan out, len(p.Trips))
	for i := range outs {
		outs[i] = make(chan out, 1)
	}
	next := make(chan []int)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chain := range next {
				dir, err := os.MkdirTemp("", "quietzone-population-")
				for _, i := range chain {
					var rep *Report
					if err == nil && ctx.Err() == nil {
						rep, err = Run(ctx, p.Trips[i], Options{Wire: o.Wire != nil, Truth: o.Truth != nil, StateDir: dir})
					}
					if err == nil && ctx.Err() != nil {
						err = ctx.Err()
					}
					outs[i] <- out{rep, err}
				}
				os.RemoveAll(dir)
			}
		}()
	}
	go func() {
		defer close(next)
		for _, c := range p.Chains {
			select {
			case next <- c:
			case <-ctx.Done():
				for _, i := range c {
					outs[i] <- out{err: ctx.Err()}
				}
			}
		}
	}()
	defer wg.Wait()
	var res PopulationResult
	var wire, truth *json.Encoder
	if o.Wire != nil {
		wire = json.NewEncoder(o.Wire)
	}
	if o.Truth != nil {
		truth = json.NewEncoder(o.Truth)
	}
	var firstErr error
	for i := range p.Trips {
		r := <-outs[i]
		if firstErr != nil {
			continue
		}
		if r.err != nil {
			firstErr = fmt.Errorf("population %s: %s: %w", p.Name, p.Trips[i].Name, r.err)
			continue
		}
		res.Trips++
		if !r.rep.OK() {
			res.Violations++
			if o.Broken != nil {
				o.Broken(r.rep)
			}
		}
		res.Messages += len(r.rep.Wire)
		if wire != nil {
			if err := WriteJSONLines(wire, r.rep.Wire); err != nil {
				firstErr = fmt.Errorf("population: write transcript: %w", err)
			}
		}
		if truth != nil && r.rep.Truth != nil {
			if h, ok := p.Homes[p.Trips[i].VIN]; ok {
				r.rep.Truth.Home = &h
			}
			if err := truth.Encode(r.rep.Truth); err != nil {
				firstErr = fmt.Errorf("population: write truth: %w", err)
			}
		}
		if o.Progress != nil {
			o.Progress(i+1, len(p.Trips))
		}
	}
	return res, firstErr
}
