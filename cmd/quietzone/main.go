// Command quietzone is the in-vehicle privacy gateway: what a vehicle
// runs, and what an integrator checks it with. The test bench (demo,
// simulated drives, attacks) is the separate quietzone-bench; the fleet's
// side is quietzone-fleet.
//
//	quietzone run --config FILE    run the daemon on the vehicle's buses
//	quietzone check --config FILE  validate a configuration and every file it names
//	quietzone replay FILE.log --config FILE   run the whole pipeline on a candump log
//	quietzone record --iface IF --out FILE.log   record a bus as a candump log
//	quietzone zones check FILE     validate a zone file and say what it holds
//	quietzone zones query LAT LON  where a position is relative to the zones
//	quietzone policy keygen|sign|verify|enrol   signed fleet policy bundles, identities
//	quietzone audit verify FILE    check the audit log's hash chain
//	quietzone status               counters of the running daemon
package main

import (
	"quietzone/cmd/internal/cli"
	"quietzone/cmd/internal/replaycmd"
)

// version and commit are stamped at build time with
// -ldflags "-X main.version=... -X main.commit=..." (make build, make cross).
var (
	version = "dev"
	commit  = "unknown"
)

const usage = `quietzone — in-vehicle privacy gateway (%s)

Usage:
  quietzone run --config FILE [--status-socket PATH]
                                         run the gateway on the vehicle's CAN buses (systemd Type=notify;
                                         SIGHUP reloads, SIGTERM stops gracefully)
  quietzone status [--socket PATH] [--json]
                                         counters of the running daemon: state, fix age, frames/s,
                                         anomalies, queue, drops, cameras
  quietzone check --config FILE          validate a configuration and every file it names
  quietzone replay FILE.log --config FILE [--iface NAME] [--max-gap D]
                                         run the whole pipeline on a candump log; print the decisions
  quietzone record --iface IF --out FILE.log [--duration D]
                                         record a SocketCAN interface as a candump log
  quietzone zones check FILE [--default-buffer M]
                                         validate a zone file and say what it holds
  quietzone zones query LAT LON (--zones FILE | --config FILE) [--speed KMH] [--heading DEG]
                  [--accuracy M] [--at TIME|any]
                                         where a position is relative to the zones, and what
                                         the gateway would decide there
  quietzone policy keygen --out PREFIX   a fleet key pair: PREFIX.key (private), PREFIX.pub (to pin)
  quietzone policy sign --key FILE --zones FILE --policy FILE --version N --out FILE
                  [--expires 720h|TIME] [--profile NAME]...
                                         sign zones and a policy into a bundle
  quietzone policy verify --pub FILE [--above N] BUNDLE
                                         check a bundle as a vehicle would
  quietzone policy enrol --secret FILE --vin VIN --out FILE
                                         a vehicle's identity: its pseudonym and root secret
  quietzone audit verify FILE [--key IDENTITY] [--head SEQ:HASH]
                                         check the audit log; names every edited, removed or forged
                                         entry; exits 4 if it could not check everything
  quietzone version
`

func main() { program().Main() }

func program() cli.Program {
	return cli.Program{Name: "quietzone", Usage: usage, Version: version, Commit: commit, Commands: map[string]cli.Command{
		"run":    runDaemon,
		"check":  check,
		"replay": replaycmd.Command("quietzone", nil),
		"record": record,
		"zones":  zones,
		"policy": policy,
		"audit":  auditCmd,
		"status": status,
	}}
}
