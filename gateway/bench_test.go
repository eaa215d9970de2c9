package gateway

import (
	"testing"
	"time"

	"quietzone/can"
)

// nopCameras is a camera controller that does nothing.
type nopCameras struct{}

func (nopCameras) Lookup(string) (int, bool)           { return 0, true }
func (nopCameras) Apply(time.Time, bool) error         { return nil }
func (nopCameras) ObserveStatus(int, int64, time.Time) {}
func (nopCameras) ObserveTrigger(int, bool, time.Time) {}
func (nopCameras) Tick(time.Time) error                { return nil }

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                 { return c.t }
func (c fixedClock) Monotonic() time.Duration       { return time.Duration(c.t.UnixNano()) }
func (c fixedClock) NewTicker(time.Duration) Ticker { panic("not in a benchmark") }

// benchGateway is a gateway of the built-in profile, not running: the
// benchmarks call its frame handler directly, as the loop does.
func benchGateway(b *testing.B, edit func([]can.Mapping)) (*Gateway, *Profile) {
	b.Helper()
	prof, err := LoadProfile("builtin:quietzone")
	if err != nil {
		b.Fatal(err)
	}
	if edit != nil {
		edit(prof.Mappings)
	}
	dec, err := prof.NewDecoder()
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(Options{Decoder: dec, Cameras: nopCameras{}, Clock: fixedClock{time.Unix(1700000000, 0)}})
	if err != nil {
		b.Fatal(err)
	}
	return g, prof
}

func benchFrame(b *testing.B, g *Gateway, f can.Frame) {
	b.Helper()
	f.Time = time.Unix(1700000000, 0)
	b.ReportAllocs()
	for b.Loop() {
		g.onFrame(&f)
	}
}

// BenchmarkOnFrame is a frame through the gateway's frame path: decoded
// into the gateway's per-role values, camera observations and the fix
// check, as the decision loop handles it.
func BenchmarkOnFrame(b *testing.B) {
	// GNSS_Status: fix type, accuracy and speed (3 signals, and the
	// heading: 4 mapped), values into g.latest.
	b.Run("mapped_GNSS_Status", func(b *testing.B) {
		g, prof := benchGateway(b, nil)
		m := prof.DB.Message("GNSS_Status")
		f := m.NewFrame()
		for sig, v := range map[string]float64{"GNSS_FixType": 3, "GNSS_HAccuracy": 2.5, "GNSS_Speed": 88} {
			if err := m.Signal(sig).Encode(&f.Data, v); err != nil {
				b.Fatal(err)
			}
		}
		benchFrame(b, g, f)
	})
	// VCU_Speed with a unit conversion and max_age on every role: the
	// expiry walk and the conversion are on the path.
	b.Run("mapped_VCU_Speed_units_max_age", func(b *testing.B) {
		g, prof := benchGateway(b, func(maps []can.Mapping) {
			for i := range maps {
				maps[i].MaxAge = time.Second
				if maps[i].Role == RoleSpeed {
					maps[i].Unit = "m/s"
				}
			}
		})
		f := prof.DB.Message("VCU_Speed").NewFrame()
		benchFrame(b, g, f)
	})
	b.Run("unmapped", func(b *testing.B) {
		g, _ := benchGateway(b, nil)
		benchFrame(b, g, can.Frame{ID: 0x123, Len: 8})
	})
}
