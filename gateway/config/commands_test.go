package config_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"quietzone/gateway/config"
	"quietzone/gateway/gatewaytest"
	"strings"
	"testing"
)

// TestCommandLayoutRefused: Load (and so `quietzone check`) refuses, at
// the profile's line, a command message the gateway could not write
// whole and unambiguous: commands sharing bits, in either byte order; a
// signal nobody assigns; one signal for two cameras.
func TestCommandLayoutRefused(t *testing.T) {
	for _, tc := range []struct {
		name, signals, profile, want string
	}{
		{"overlap, intel", ` SG_ CAM_CabinCmd : 1|2@1+ (1,0) [0|3] "" CAMC`,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\n  camera.cabin: CAM_Command.CAM_CabinCmd\n",
			"p.yaml:4: command camera.cabin: CAM_Command.CAM_CabinCmd shares bits with CAM_Command.CAM_FrontCmd"},
		{"overlap, motorola", ` SG_ CAM_CabinCmd : 1|2@0+ (1,0) [0|3] "" CAMC`,
			"commands:\n  camera.cabin: CAM_Command.CAM_CabinCmd\n  camera.front: CAM_Command.CAM_FrontCmd\n",
			"p.yaml:4: command camera.front: CAM_Command.CAM_FrontCmd shares bits with CAM_Command.CAM_CabinCmd"},
		{"overlap with a fixed signal", ` SG_ CAM_Counter : 1|4@1+ (1,0) [0|15] "" CAMF`,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\ncommand_fixed:\n  CAM_Command.CAM_Counter: 0\n",
			"p.yaml:5: command_fixed CAM_Command.CAM_Counter: it shares bits with CAM_Command.CAM_FrontCmd"},
		{"unassigned signal", ` SG_ CAM_RearCmd : 2|2@1+ (1,0) [0|3] "" CAMR
 SG_ CAM_Counter : 56|4@1+ (1,0) [0|15] "" CAMF`,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\n  camera.rear: CAM_Command.CAM_RearCmd\n",
			"p.yaml:3: command message CAM_Command: signal CAM_Counter is no camera's command and has no value under command_fixed"},
		{"two cameras, one signal", ``,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\n  camera.rear: CAM_Command.CAM_FrontCmd\n",
			"p.yaml:4: command camera.rear: CAM_Command.CAM_FrontCmd is already the command of camera front"},
		{"one camera twice", ``,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\n  front: CAM_Command.CAM_FrontCmd\n",
			"p.yaml:4: command front: a second command for camera front"},
		{"deny does not fit", ``,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\ncamera_command: {allow: 0, deny: 4, purge: 2}\n",
			"p.yaml:3: command camera.front: command signal CAM_FrontCmd (2 bits) cannot carry deny code 4"},
		{"fixed value does not fit", ` SG_ CAM_Counter : 56|4@1+ (1,0) [0|15] "" CAMF`,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\ncommand_fixed:\n  CAM_Command.CAM_Counter: 16\n",
			"p.yaml:5: command_fixed CAM_Command.CAM_Counter: 16 does not fit its 4 bits"},
		{"fixed outside a command message", ``,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\ncommand_fixed:\n  CAM_FrontStatus.CAM_FrontState: 0\n",
			"p.yaml:5: command_fixed CAM_FrontStatus.CAM_FrontState: it is not a signal of a message the gateway sends"},
		{"status codes confused", ``,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\ncamera_status: {idle: 0, recording: 0, fault: 2, off: 3}\n",
			"p.yaml:4: camera status codes: idle and recording are both 0"},
		{"a camera's command fixed at allow", ` SG_ CAM_CabinCmd : 4|2@1+ (1,0) [0|3] "" CAMC
VAL_ 768 CAM_FrontCmd 0 "ALLOW" 1 "DENY" ;
VAL_ 768 CAM_CabinCmd 0 "ALLOW" 1 "DENY" ;`,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\ncommand_fixed:\n  CAM_Command.CAM_CabinCmd: 0\n",
			"p.yaml:5: command_fixed CAM_Command.CAM_CabinCmd: 0 reads \"ALLOW\", as camera front's allow code does"},
		{"fixed and a command", ``,
			"commands:\n  camera.front: CAM_Command.CAM_FrontCmd\ncommand_fixed:\n  CAM_Command.CAM_FrontCmd: 1\n",
			"p.yaml:5: command_fixed CAM_Command.CAM_FrontCmd: it is already the command of camera front"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := gatewaytest.WriteSet(t, map[string]string{
				"quietzone.yaml": strings.Replace(gatewaytest.GoodHead, "builtin:quietzone", "p.yaml", 1) + "cameras: [{name: front, class: exterior}]\n",
				"v.dbc":          fmt.Sprintf(commandDBC, tc.signals),
				"p.yaml":         "dbc: v.dbc\n" + tc.profile,
			})
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("accepted")
			}
			got := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
			if !strings.Contains(got, tc.want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", got, tc.want)
			}
			var ce *config.ConfigError
			if !errors.As(err, &ce) || ce.Line < 1 {
				t.Errorf("error %v is not a ConfigError with a line", err)
			}
		})
	}
}

// TestCameraInterfacesChecked: a camera's interfaces must be among the
// vehicle's, and only a camera with a command has any use for them.
func TestCameraInterfacesChecked(t *testing.T) {
	for _, tc := range []struct{ cameras, want string }{
		{"cameras:\n  - name: front\n    class: exterior\n    interfaces: [can7]\n", "quietzone.yaml:11: camera front: interface can7 is not among vehicle.interfaces"},
		{"cameras:\n  - name: front\n    class: exterior\n    interfaces: [vcan0, vcan0]\n", "quietzone.yaml:11: camera front: interface vcan0 named twice"},
		{"cameras:\n  - name: side\n    class: exterior\n    power_line: P\n    interfaces: [vcan0]\n", "quietzone.yaml:12: camera side: interfaces are where its command goes, and the profile has no command for it"},
	} {
		_, err := config.Load(gatewaytest.WriteSet(t, map[string]string{"quietzone.yaml": gatewaytest.GoodHead + tc.cameras}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.cameras, err, tc.want)
		}
	}
}

// The shipped reference profile declares its command message whole.
func TestReferenceProfileCommands(t *testing.T) {
	p, err := config.LoadProfile("builtin:quietzone")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Commands) != 3 || len(p.Fixed) != 1 || p.Fixed[0].Signal.Name != "CAM_CmdCounter" || p.Fixed[0].Raw != 0 {
		t.Errorf("commands %v, fixed %+v", p.Commands, p.Fixed)
	}
}

// commandDBC is a command message for the refusal cases; %s is the rest
// of its signals.
const commandDBC = `VERSION ""

BO_ 768 CAM_Command: 8 GW
 SG_ CAM_FrontCmd : 0|2@1+ (1,0) [0|3] "" CAMF
%s
BO_ 784 CAM_FrontStatus: 2 CAMF
 SG_ CAM_FrontState : 1|2@1+ (1,0) [0|3] "" GW

BO_ 416 GNSS_Position: 8 GNSS
 SG_ GNSS_Latitude : 7|32@0- (1E-007,0) [-90|90] "deg" GW
 SG_ GNSS_Longitude : 39|32@0- (1E-007,0) [-180|180] "deg" GW
`
