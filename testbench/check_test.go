package testbench

import (
	"maps"
	"testing"
	"time"

	"quietzone/gateway/config"
	"quietzone/geofence"
	"quietzone/testbench/scenario"
	"quietzone/uplink"
)

// batch compresses records the way the uplink does.
func batch(t *testing.T, recs ...uplink.Record) []byte {
	t.Helper()
	b, err := uplink.NewBatcher(uplink.BatchRule{MaxRecords: 1000, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, _, err := b.Add(r, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := b.Close()
	return out.Payload
}

func msg(t *testing.T, recs ...uplink.Record) message {
	p := batch(t, recs...)
	m := message{Topic: "quietzone/v1/abc/telemetry", Payload: p}
	m.Records, m.Err = uplink.DecodeBatch(p)
	return m
}

// nearT starts a minute the vehicle spent near a zone, on the demo's 30 s
// quantum grid.
var nearT = time.Date(2026, 6, 1, 8, 10, 0, 0, time.UTC).Unix()

func alarmMsg(t *testing.T, recs ...uplink.Record) message {
	m := msg(t, recs...)
	m.Topic = "quietzone/v1/abc/alarm"
	return m
}

// TestCheckerCatchesLeaks feeds the checker what a broken gateway would
// publish, so that a green demo means something.
func TestCheckerCatchesLeaks(t *testing.T) {
	sc := scenario.BuiltIn()
	zones, err := geofence.Parse(sc.ZonesName, sc.Zones, geofence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := config.ParsePolicy(sc.PolicyName, sc.Policy)
	if err != nil {
		t.Fatal(err)
	}
	// A policy that lists what no vehicle may send (it could not be
	// loaded; a broken uplink could still act on it).
	lax := *pol
	lax.Signals = maps.Clone(pol.Signals)
	for _, role := range []string{"position.heading", "vehicle.odometer", "phone.contact.chars", "gnss.lat", "Position.Latitude"} {
		lax.Signals[role] = uplink.Rule{}
	}
	prof, err := config.LoadProfile(config.BuiltinPrefix + "quietzone")
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{sc.VIN, "Demo Depot North", "ALICE K"}
	far := []float64{52.1, 10.3}
	inZone := []float64{52.015, 10.090}            // inside zone A
	inBuffer := []float64{52.0095 - 0.0009, 10.09} // ~100 m south of zone A, within its 200 m buffer
	cases := []struct {
		name     string
		msgs     []message
		accepted uint64
		want     Findings
	}{
		{"clean", []message{msg(t, uplink.Record{Seq: 1, Pos: far, Signals: map[string]float64{"vehicle.speed": 50}})}, 1,
			Findings{Received: 1, PositionsSeen: 1}},
		{"position in a zone", []message{msg(t, uplink.Record{Seq: 1, Pos: inZone})}, 1,
			Findings{Received: 1, PositionsSeen: 1, PositionLeaks: 1}},
		{"position in a buffer", []message{msg(t, uplink.Record{Seq: 1, Pos: inBuffer})}, 1,
			Findings{Received: 1, PositionsSeen: 1, PositionLeaks: 1}},
		{"phone data", []message{msg(t, uplink.Record{Seq: 1, Signals: map[string]float64{"phone.contact.chars": 1}})}, 1,
			Findings{Received: 1, ForbiddenSignals: 1}},
		{"signal the policy does not allow", []message{msg(t, uplink.Record{Seq: 1, Signals: map[string]float64{"vehicle.odometer": 1}})}, 1,
			Findings{Received: 1, ForbiddenSignals: 1}},
		{"VIN in a topic", []message{{Topic: "quietzone/v1/" + sc.VIN + "/status", Payload: []byte("online")}}, 0,
			Findings{IdentifierLeaks: 1}},
		{"lost record", []message{msg(t, uplink.Record{Seq: 1}, uplink.Record{Seq: 3})}, 3,
			Findings{Received: 2, LostRecords: 1}},
		{"repeat", []message{msg(t, uplink.Record{Seq: 1}), msg(t, uplink.Record{Seq: 1})}, 1,
			Findings{Received: 1, Duplicates: 1}},
		{"garbage", []message{{Topic: "quietzone/v1/abc/telemetry", Payload: []byte("not zstd")}}, 0,
			Findings{BadPayloads: 1}},
		{"precise time near a zone", []message{msg(t, uplink.Record{Seq: 1, Time: nearT + 7, Signals: map[string]float64{"vehicle.speed": 50}})}, 1,
			Findings{Received: 1, TimingLeaks: 1}},
		{"coarse time near a zone", []message{msg(t, uplink.Record{Seq: 1, Time: nearT, Signals: map[string]float64{"vehicle.speed": 50}})}, 1,
			Findings{Received: 1}},
		{"precise time far from zones", []message{msg(t, uplink.Record{Seq: 1, Time: nearT + 3600 + 7})}, 1,
			Findings{Received: 1}},
		{"alarm with location", []message{alarmMsg(t, uplink.Record{Seq: 1, Time: nearT, Alarm: "camera.disobeyed", Signals: map[string]float64{"position.latitude": 52}})}, 1,
			Findings{Received: 1, ForbiddenSignals: 1}},
		{"alarm counts as a record", []message{alarmMsg(t, uplink.Record{Seq: 2, Time: nearT, Alarm: "camera.disobeyed", Signals: map[string]float64{"camera.index": 1}}),
			msg(t, uplink.Record{Seq: 1})}, 2,
			Findings{Received: 2}},
		{"zone name in a status record", []message{{Topic: "quietzone/v1/abc/status", Payload: []byte(`{"v":1,"note":"demo depot north"}`)}}, 0,
			Findings{IdentifierLeaks: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			near := func(sec int64) bool { return sec >= nearT && sec < nearT+60 }
			if got := check(tc.msgs, zones, pol, prof, secrets, tc.accepted, near); got != tc.want {
				t.Errorf("findings %+v, want %+v", got, tc.want)
			}
		})
	}

	// What a broken uplink might send under a policy that lists what no
	// vehicle may send: counted by the class the vehicle's profile gives
	// each role, whatever the policy says.
	for _, tc := range []struct {
		name string
		rec  uplink.Record
		want int
	}{
		{"location data", uplink.Record{Seq: 1, Signals: map[string]float64{"position.heading": 90, "vehicle.odometer": 1}}, 2},
		{"phone data", uplink.Record{Seq: 1, Signals: map[string]float64{"phone.contact.chars": 1}}, 1},
		{"roles the vehicle does not have", uplink.Record{Seq: 1, Signals: map[string]float64{"gnss.lat": 52.5, "Position.Latitude": 52.5}}, 2},
		{"an alarm with the odometer", uplink.Record{Seq: 1, Time: nearT, Alarm: "camera.disobeyed", Signals: map[string]float64{"vehicle.odometer": 1}}, 1},
		{"vehicle data", uplink.Record{Seq: 1, Signals: map[string]float64{"vehicle.speed": 50}}, 0},
	} {
		m := msg(t, tc.rec)
		if tc.rec.Alarm != "" {
			m = alarmMsg(t, tc.rec)
		}
		if got := check([]message{m}, zones, &lax, prof, secrets, 1, nil); got.ForbiddenSignals != tc.want || got.Received != 1 {
			t.Errorf("%s: findings %+v, want %d forbidden", tc.name, got, tc.want)
		}
	}
}
