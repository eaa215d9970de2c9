package testbench

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"quietzone/testbench/scenario"
)

// RunFleet drives n vehicles on sc at once, each with its own VIN, seed
// and gateway (its own queue and broker link), against one broker: the
// embedded one, or o.BrokerURL. Reports come back in vehicle order; on
// cancellation each covers its drive so far. o.Progress sees the fleet's
// mean share of the route.
func RunFleet(ctx context.Context, sc scenario.Scenario, n int, o Options) ([]*Report, error) {
	if n < 1 {
		return nil, errors.New("run fleet: at least one vehicle is required")
	}
	if o.BrokerURL == "" {
		b, err := startBroker()
		if err != nil {
			return nil, fmt.Errorf("run fleet: %w", err)
		}
		defer b.Close()
		o.BrokerURL = b.URL
	}
	var mu sync.Mutex
	done := make([]float64, n)
	progress := o.Progress
	reps := make([]*Report, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		v := sc
		v.Name = fmt.Sprintf("%s — vehicle %d of %d", sc.Name, i+1, n)
		v.VIN = fleetVIN(sc.VIN, i)
		v.Seed = sc.Seed + uint64(i)*1_000_003
		vo := o
		vo.Record = nil
		if progress != nil {
			vo.Progress = func(f float64) {
				mu.Lock()
				defer mu.Unlock()
				done[i] = f
				sum := 0.0
				for _, d := range done {
					sum += d
				}
				progress(sum / float64(n))
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = Run(ctx, v, vo)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			errs[i] = fmt.Errorf("vehicle %d: %w", i+1, err)
		}
	}
	return reps, errors.Join(errs...)
}

// fleetVIN gives vehicle i a VIN of its own, the base's with its last
// digits replaced.
func fleetVIN(base string, i int) string {
	if base == "" {
		base = scenario.DefaultVIN
	}
	suffix := fmt.Sprintf("%04d", i+1)
	if len(base) < len(suffix) {
		return base + suffix
	}
	return base[:len(base)-len(suffix)] + suffix
}
