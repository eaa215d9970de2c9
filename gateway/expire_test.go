package gateway

import (
	"testing"
	"time"

	"quietzone/can"
)

// splitDBC carries latitude and longitude in two messages, as some
// vehicles do.
const splitDBC = `VERSION ""

BO_ 256 Lat: 4 GNSS
 SG_ Latitude : 0|32@1- (1E-007,0) [-90|90] "deg" GW

BO_ 257 Lon: 4 GNSS
 SG_ Longitude : 0|32@1- (1E-007,0) [-180|180] "deg" GW
`

// TestExpiredCoordinateMakesNoFix: a longitude older than its max_age is
// forgotten when a latitude arrives, not read as 0 into a fix.
func TestExpiredCoordinateMakesNoFix(t *testing.T) {
	db, err := can.LoadDBC("split.dbc", []byte(splitDBC))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
		fixes  uint64
	}{
		{"longitude expired", 50 * time.Millisecond, 0},
		{"longitude fresh", 500 * time.Millisecond, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec, err := can.NewDecoder(db, []can.Mapping{
				{Role: RoleLatitude, Message: "Lat", Signal: "Latitude"},
				{Role: RoleLongitude, Message: "Lon", Signal: "Longitude", MaxAge: tc.maxAge},
			})
			if err != nil {
				t.Fatal(err)
			}
			clock := &testClock{t: time.Unix(1700000000, 0)}
			g, err := New(Options{Decoder: dec, Cameras: nopCameras{}, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			frame := func(msg, sig string, v float64) *can.Frame {
				m := db.Message(msg)
				f := m.NewFrame()
				if err := m.Signal(sig).Encode(&f.Data, v); err != nil {
					t.Fatal(err)
				}
				f.Time = clock.t
				return &f
			}
			g.onFrame(frame("Lon", "Longitude", 11.5))
			clock.t = clock.t.Add(80 * time.Millisecond) // within a tick (100 ms) of the longitude
			g.onFrame(frame("Lat", "Latitude", 48.1))
			if g.stats.Fixes != tc.fixes {
				t.Errorf("fixes %d, want %d (fix %+v)", g.stats.Fixes, tc.fixes, g.fix)
			}
			if g.fix.valid && g.fix.lon != 0 && (g.fix.lon < 11.49 || g.fix.lon > 11.51) {
				t.Errorf("fix longitude %v", g.fix.lon)
			}
			if g.fix.valid && g.fix.lon == 0 {
				t.Error("a fix with an expired longitude read as 0")
			}
		})
	}
}
