// Package can reads and writes CAN frames and turns them into signal values.
//
// It holds the frame type (classic CAN and CAN FD, up to 64 data bytes), the
// Source interface that every bus implements, and three sources: an
// in-process virtual bus for tests and simulation, SocketCAN (Linux only:
// CAN FD, kernel receive filters and timestamps, error frames counted by
// class, reconnection when the interface goes away), and candump logs
// (LogReader and LogWriter, the format of can-utils' candump -l and
// canplayer) for recording and replay.
//
// The run-time DBC codec parses a DBC file once with
// go.einride.tech/can/pkg/dbc, working around its parser's quirks, and
// extracts bits itself (little and big endian, signed, IEEE float,
// multiplexed, up to 64 bytes), so that values are never clamped: values
// outside a signal's DBC range are flagged and counted instead. A signal
// map names which signals the gateway needs under stable role names such as
// "vehicle.speed", with unit conversion (mph to km/h, rad to deg, ...); a
// DBC signal has one role (a second name for it would be a second
// spelling of one meaning). What a role's values are, and whether they
// may leave the vehicle, is the gateway's business (Mapping.Class). No
// code is generated from the DBC; any vehicle's DBC can be loaded while the
// program runs.
//
// The frame path (SocketCAN.ReadFrame, LogReader.ReadFrame, Decoder.Decode)
// does not allocate: it runs for every frame on buses that carry thousands
// of frames a second.
//
// The package knows nothing of zones, cameras or MQTT.
package can
