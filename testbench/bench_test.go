package testbench

import (
	"context"
	"testing"

	"quietzone/testbench/scenario"
)

// mqttOverhead is what one QoS 1 PUBLISH adds to its payload on the wire,
// without TLS and TCP: fixed header (up to 3 bytes for these sizes),
// topic length and topic (quietzone/v1/ + 16-character pseudonym +
// /telemetry), packet ID; plus the 4-byte PUBACK coming back.
const mqttOverhead = 3 + 2 + len("quietzone/v1/0123456789abcdef/telemetry") + 2 + 4

// BenchmarkDemoDrive runs the built-in drive (about 12 simulated minutes)
// and reports what it sends per vehicle-hour: the batches' payload, and
// with MQTT's framing (TLS adds about 22-29 bytes a record and TCP/IP its
// headers, not counted). ns/op is the wall time of one whole drive.
func BenchmarkDemoDrive(b *testing.B) {
	var rep *Report
	for b.Loop() {
		var err error
		if rep, err = Run(context.Background(), scenario.BuiltIn(), Options{}); err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatal("invariants violated")
		}
	}
	hours := rep.Simulated.Hours()
	u := rep.Uplink
	b.ReportMetric(float64(u.CompressedBytes)/hours, "payload-B/vehicle-h")
	b.ReportMetric(float64(u.CompressedBytes+u.Batches*uint64(mqttOverhead))/hours, "mqtt-B/vehicle-h")
	b.ReportMetric(float64(u.RawBytes)/hours, "json-B/vehicle-h")
	b.ReportMetric(float64(u.Batches)/hours, "batches/vehicle-h")
	b.ReportMetric(float64(u.Records)/hours, "records/vehicle-h")
}
