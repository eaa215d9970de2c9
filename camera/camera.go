package camera

import (
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"

	"quietzone/can"
)

// Class says what a camera looks at.
type Class string

// Camera classes.
const (
	// Exterior cameras record the surroundings (sentry, dashcam).
	Exterior Class = "exterior"
	// Cabin cameras record the occupants. They stay off unless enabled
	// (Spec.Enabled; the gateway enables one only when both the vehicle's
	// configuration and the fleet's policy allow it): cabin data stays in
	// the car by default.
	Cabin Class = "cabin"
)

// Status is what a camera reports about itself.
type Status uint8

// Camera statuses. Unknown means no status was heard recently.
const (
	Unknown Status = iota
	Idle
	Recording
	Fault
	Off
)

var statusNames = [...]string{"unknown", "idle", "recording", "fault", "off"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", s)
}

// Codes are the raw CAN values of the command and status signals.
type Codes struct {
	Allow, Deny, Purge          int64
	Idle, Recording, Fault, Off int64
}

// DefaultCodes are the values of the quietzone reference DBC.
var DefaultCodes = Codes{Allow: 0, Deny: 1, Purge: 2, Idle: 0, Recording: 1, Fault: 2, Off: 3}

// Spec is the wiring of one camera.
type Spec struct {
	Name  string
	Class Class
	// Power switches the camera's supply; nil when it has none.
	Power gpio.PinOut
	// PowerActiveLow: the camera is powered when the line is Low.
	PowerActiveLow bool
	// Command is the DBC signal that carries its recording command; nil
	// when it has none. Several cameras may share one message.
	Command *can.Signal
	// Enabled allows a cabin camera to record when not suppressed.
	// Exterior cameras ignore it.
	Enabled bool
	// PurgeOnEntry: the command that suppresses the camera carries the
	// purge code (deny and drop the pre-event buffer) once, on every
	// entry into suppression, so that footage of the approach to a zone
	// cannot be saved by a later trigger. It needs a command signal.
	PurgeOnEntry bool
	// HasStatus: the camera reports its status on the bus. Its silence
	// then counts as doubt: silent while it may not record and its power
	// cannot be cut (no line, or the cut failed) is escalated like
	// recording (Unverified).
	HasStatus bool
}

// FrameWriter sends command frames; a virtual-bus port or SocketCAN.
// WriteFrame must not retain f after it returns: the controller reuses it.
type FrameWriter interface {
	WriteFrame(f *can.Frame) error
}

// Options configure a Controller.
type Options struct {
	Codes Codes
	// StatusTimeout: a camera not heard from for this long is Unknown.
	StatusTimeout time.Duration
	// Resend: the command frame is repeated this often, so that a camera
	// that restarts learns its command within one period.
	Resend time.Duration
	// Grace is how long a camera may go on recording (by its status)
	// after it was told to stop, before it is escalated: its power cut
	// again, the command resent, and an Escalation handed out. It is the
	// time a camera takes to stop; default 2 s.
	Grace time.Duration
}

// Stats count what the controller did and saw.
type Stats struct {
	Commands          uint64 // command frames sent
	CommandErrors     uint64 // command frames that could not be sent
	PowerErrors       uint64 // power-line writes that failed
	TriggersAllowed   uint64 // triggers while recording was allowed
	TriggersDropped   uint64 // triggers while suppressed: counted, nothing recorded
	DisobedientStatus uint64 // status frames saying "recording" while suppressed
	Purges            uint64 // purge commands delivered (one per camera and entry)
	Escalations       uint64 // cameras escalated: disobedient or unverified beyond the grace period
	StatusLost        uint64 // times a camera's status went silent for StatusTimeout
}

// State is the controller's view of one camera.
type State struct {
	Name    string
	Class   Class
	Allowed bool // commanded to record-allowed
	// Powered: the power line is on, or not known to be off because its
	// last write failed. True when the camera has no line.
	Powered    bool
	Status     Status
	StatusTime time.Time
	// Suspect is when the camera began to breach its command (recording
	// while not allowed, or silent and uncut); zero while it obeys.
	// Escalated: it was escalated for this breach.
	Suspect   time.Time
	Escalated bool
}

// Breach says how a camera failed its command.
type Breach uint8

// Breaches.
const (
	// Disobeyed: its status said it was recording while it was not
	// allowed to record.
	Disobeyed Breach = iota + 1
	// Unverified: its status went silent (or was never heard) while it
	// was not allowed to record and its power could not be cut, so that
	// nothing shows it stopped.
	Unverified
)

func (b Breach) String() string {
	switch b {
	case Disobeyed:
		return "disobeyed"
	case Unverified:
		return "unverified"
	}
	return fmt.Sprintf("breach(%d)", b)
}

// Escalation is a camera that breached its command for longer than the
// grace period. The controller has cut its power again and resends the
// command; the caller raises the alarm.
type Escalation struct {
	Camera int // index, as Lookup returns it
	Name   string
	Class  Class
	Breach Breach
	// Since is when the breach began, At when the grace period ran out.
	Since, At time.Time
}

type cam struct {
	spec    Spec
	state   State
	trigger bool
	purge   bool // the next command carries the purge code
	// lastBreach is the last time the camera was seen breaching: a
	// breach ends only after it obeyed for a whole grace period, so that
	// a camera flapping between "recording" and "idle" cannot restart
	// the clock.
	lastBreach time.Time
	pending    bool // escalated, not yet handed out by Escalations
	breach     Breach
	escAt      time.Time
}

// Controller drives all cameras of a vehicle.
type Controller struct {
	opts       Options
	cams       []cam
	w          FrameWriter
	msgs       []*can.Message // distinct command messages
	suppressed bool
	applied    bool
	cabinOff   bool // the policy in force forbids cabin cameras (AllowCabin)
	forceSend  bool // an escalation: resend at the next Tick
	lastSend   time.Time
	stats      Stats
	frame      can.Frame // reused by send, so that it does not allocate
}

// NewController checks the wiring; it does not touch any camera until the
// first Apply.
func NewController(specs []Spec, w FrameWriter, opts Options) (*Controller, error) {
	if opts.Codes == (Codes{}) {
		opts.Codes = DefaultCodes
	}
	if opts.StatusTimeout <= 0 {
		opts.StatusTimeout = 2 * time.Second
	}
	if opts.Resend <= 0 {
		opts.Resend = time.Second
	}
	if opts.Grace <= 0 {
		opts.Grace = 2 * time.Second
	}
	c := &Controller{opts: opts, w: w, suppressed: true}
	seen := map[string]bool{}
	commands := map[*can.Signal]string{} // command signal -> camera
	for _, s := range specs {
		if s.Name == "" || seen[s.Name] {
			return nil, fmt.Errorf("camera %q: empty or duplicate name", s.Name)
		}
		seen[s.Name] = true
		if s.Class != Exterior && s.Class != Cabin {
			return nil, fmt.Errorf("camera %s: class %q, want %q or %q", s.Name, s.Class, Exterior, Cabin)
		}
		if s.Power == nil && s.Command == nil {
			return nil, fmt.Errorf("camera %s: neither a power line nor a command signal: it could not be suppressed", s.Name)
		}
		if s.PurgeOnEntry && s.Command == nil {
			return nil, fmt.Errorf("camera %s: purge on entry needs a command signal to carry it", s.Name)
		}
		if s.Command != nil {
			if w == nil {
				return nil, fmt.Errorf("camera %s: command signal but no CAN writer", s.Name)
			}
			if other, ok := commands[s.Command]; ok {
				return nil, fmt.Errorf("camera %s: command signal %s already commands camera %s", s.Name, s.Command.Name, other)
			}
			commands[s.Command] = s.Name
			if err := checkCodes(s.Command, opts.Codes, s.PurgeOnEntry); err != nil {
				return nil, fmt.Errorf("camera %s: %w", s.Name, err)
			}
			if !containsMsg(c.msgs, s.Command.Message) {
				c.msgs = append(c.msgs, s.Command.Message)
			}
		}
		c.cams = append(c.cams, cam{spec: s, state: State{Name: s.Name, Class: s.Class}})
	}
	if err := distinctStatusCodes(opts.Codes); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCodes makes sure the deny and allow codes (and the purge code, when
// it is used) reach the camera as given: SetRaw drops the bits that do not
// fit, which could turn a deny into an allow.
func checkCodes(s *can.Signal, codes Codes, purge bool) error {
	check := []struct {
		name string
		code int64
	}{{"deny", codes.Deny}, {"allow", codes.Allow}}
	if purge {
		check = append(check, struct {
			name string
			code int64
		}{"purge", codes.Purge})
	}
	for _, c := range check {
		var d [can.MaxDataLen]byte
		s.SetRaw(&d, uint64(c.code))
		if s.Raw(&d) != c.code {
			return fmt.Errorf("command signal %s (%d bits) cannot carry %s code %d", s.Name, s.Length, c.name, c.code)
		}
	}
	if codes.Deny == codes.Allow {
		return fmt.Errorf("command signal %s: deny code %d and allow code %d are the same", s.Name, codes.Deny, codes.Allow)
	}
	if purge && codes.Purge == codes.Allow {
		return fmt.Errorf("command signal %s: purge code %d and allow code %d are the same", s.Name, codes.Purge, codes.Allow)
	}
	return nil
}

// distinctStatusCodes refuses status codes that would be confused: with
// recording equal to idle, a recording camera would look obedient.
func distinctStatusCodes(c Codes) error {
	codes := map[int64]string{}
	for _, s := range []struct {
		name string
		code int64
	}{{"idle", c.Idle}, {"recording", c.Recording}, {"fault", c.Fault}, {"off", c.Off}} {
		if other, dup := codes[s.code]; dup {
			return fmt.Errorf("camera status codes: %s and %s are both %d", other, s.name, s.code)
		}
		codes[s.code] = s.name
	}
	return nil
}

func containsMsg(ms []*can.Message, m *can.Message) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// Lookup returns the index of the camera called name.
func (c *Controller) Lookup(name string) (int, bool) {
	for i := range c.cams {
		if c.cams[i].spec.Name == name {
			return i, true
		}
	}
	return 0, false
}

// mayRecord says whether camera i may record when nothing is suppressed.
func (c *Controller) mayRecord(i int) bool {
	s := &c.cams[i].spec
	return s.Class == Exterior || (s.Enabled && !c.cabinOff)
}

// AllowCabin says whether the fleet's policy lets the enabled cabin
// cameras record (a new policy while running); it takes effect at the
// next Apply. It never enables a camera its Spec does not.
func (c *Controller) AllowCabin(allowed bool) { c.cabinOff = !allowed }

// Apply suppresses (suppress true) or allows all cameras: it sends the
// command frames and sets every power line. It always tries every camera
// and returns every error, joined; a failure is never a reason to stop
// cutting power to the others.
//
// An entry into suppression (the first Apply, or suppress after allow)
// purges the pre-event buffer of every camera with PurgeOnEntry. A camera
// that is not allowed to record from now on gets Options.Grace, counted
// from now, to stop.
func (c *Controller) Apply(now time.Time, suppress bool) error {
	entry := suppress && (!c.applied || !c.suppressed)
	c.suppressed = suppress
	c.applied = true
	for i := range c.cams {
		k := &c.cams[i]
		k.state.Allowed = !suppress && c.mayRecord(i)
		// A purge not yet delivered stays due while suppressed.
		k.purge = suppress && k.spec.PurgeOnEntry && (entry || k.purge)
	}
	err := errors.Join(c.power(), c.send(now))
	for i := range c.cams {
		c.verify(i, now)
	}
	return err
}

// power sets every power line to what its camera's command says.
func (c *Controller) power() error {
	var errs []error
	for i := range c.cams {
		k := &c.cams[i]
		allow := k.state.Allowed
		failed := false
		if k.spec.Power != nil {
			if err := k.spec.Power.Out(c.level(k, allow)); err != nil {
				c.stats.PowerErrors++
				errs = append(errs, fmt.Errorf("camera %s power: %w", k.spec.Name, err))
				failed = true
			}
		}
		k.state.Powered = allow || k.spec.Power == nil || failed
	}
	return errors.Join(errs...)
}

func (c *Controller) level(k *cam, on bool) gpio.Level {
	if k.spec.PowerActiveLow {
		return !gpio.Level(on)
	}
	return gpio.Level(on)
}

// send writes every command message with the current command of each of
// its cameras.
func (c *Controller) send(now time.Time) error {
	var errs []error
	for _, m := range c.msgs {
		f := &c.frame
		*f = m.NewFrame()
		f.Time = now
		for i := range c.cams {
			k := &c.cams[i]
			if k.spec.Command == nil || k.spec.Command.Message != m {
				continue
			}
			code := c.opts.Codes.Deny
			switch {
			case k.state.Allowed:
				code = c.opts.Codes.Allow
			case k.purge:
				code = c.opts.Codes.Purge
			}
			k.spec.Command.SetRaw(&f.Data, uint64(code))
		}
		if err := c.w.WriteFrame(f); err != nil {
			c.stats.CommandErrors++
			errs = append(errs, fmt.Errorf("send camera command %s: %w", m.Name, err))
			continue // a purge not delivered goes with the retry
		}
		c.stats.Commands++
		for i := range c.cams {
			if k := &c.cams[i]; k.purge && k.spec.Command != nil && k.spec.Command.Message == m {
				k.purge = false
				c.stats.Purges++
			}
		}
	}
	if len(errs) == 0 {
		c.lastSend = now // on failure, the next tick tries again
	}
	return errors.Join(errs...)
}

// Tick repeats the command frames when they are due, ages out status and
// checks every camera against its command (see Escalations).
func (c *Controller) Tick(now time.Time) error {
	for i := range c.cams {
		st := &c.cams[i].state
		if st.Status != Unknown && now.Sub(st.StatusTime) > c.opts.StatusTimeout {
			st.Status = Unknown
			c.stats.StatusLost++
		}
	}
	if !c.applied {
		return nil
	}
	// A power cut that failed once must not wait for the next decision:
	// every tick writes every line again (writing the same level is
	// harmless), so a glitch or a transient error heals within a tick.
	err := c.power()
	for i := range c.cams {
		c.verify(i, now)
	}
	// A clock stepped backwards (NTP, GNSS time) must not silence resends.
	if !c.forceSend && now.Sub(c.lastSend) < c.opts.Resend && !now.Before(c.lastSend) {
		return err
	}
	c.forceSend = false // a failed send is retried next tick anyway
	return errors.Join(err, c.send(now))
}

// breachOf says whether camera k is breaching its command now.
func (c *Controller) breachOf(k *cam) Breach {
	switch {
	case k.state.Allowed:
		return 0
	case k.state.Status == Recording:
		return Disobeyed
	case k.state.Status == Unknown && k.spec.HasStatus && k.state.Powered:
		// Powered is true without a line and when the cut failed.
		return Unverified
	}
	return 0
}

// verify follows camera i's breach and escalates it once its grace period
// is over: the power line is cut again at once and the command is resent
// at the next Tick. One escalation per breach; a breach ends when the
// camera has obeyed for a whole grace period.
func (c *Controller) verify(i int, now time.Time) {
	k := &c.cams[i]
	st := &k.state
	b := c.breachOf(k)
	if !c.applied || k.state.Allowed {
		st.Suspect, st.Escalated = time.Time{}, false
		return
	}
	if b == 0 {
		if !st.Suspect.IsZero() && now.Sub(k.lastBreach) > c.opts.Grace {
			st.Suspect, st.Escalated = time.Time{}, false
		}
		return
	}
	k.lastBreach = now
	// A clock stepped backwards restarts the grace period rather than
	// stretching it by the step.
	if st.Suspect.IsZero() || now.Before(st.Suspect) {
		st.Suspect = now
	}
	if st.Escalated || now.Sub(st.Suspect) <= c.opts.Grace {
		return
	}
	st.Escalated = true
	k.pending, k.breach, k.escAt = true, b, now
	c.stats.Escalations++
	c.forceSend = true
	if k.spec.Power != nil {
		if err := k.spec.Power.Out(c.level(k, false)); err != nil {
			c.stats.PowerErrors++ // Powered stays true: the cut is still in doubt
		} else {
			st.Powered = false
		}
	}
}

// Escalations appends to dst the cameras escalated since the last call,
// each once. It does not allocate when dst has room for every camera.
func (c *Controller) Escalations(dst []Escalation) []Escalation {
	for i := range c.cams {
		k := &c.cams[i]
		if !k.pending {
			continue
		}
		k.pending = false
		dst = append(dst, Escalation{Camera: i, Name: k.spec.Name, Class: k.spec.Class, Breach: k.breach, Since: k.state.Suspect, At: k.escAt})
	}
	return dst
}

// ObserveStatus records a status signal's raw value from camera i.
func (c *Controller) ObserveStatus(i int, raw int64, now time.Time) {
	k := &c.cams[i]
	codes := &c.opts.Codes
	switch raw {
	case codes.Idle:
		k.state.Status = Idle
	case codes.Recording:
		k.state.Status = Recording
		if !k.state.Allowed {
			c.stats.DisobedientStatus++
		}
	case codes.Fault:
		k.state.Status = Fault
	case codes.Off:
		k.state.Status = Off
	default:
		k.state.Status = Unknown
	}
	k.state.StatusTime = now
	c.verify(i, now)
}

// ObserveTrigger records camera i's trigger input. A rising trigger while
// the camera is not allowed to record is counted and dropped.
func (c *Controller) ObserveTrigger(i int, active bool, now time.Time) {
	k := &c.cams[i]
	if active && !k.trigger {
		if k.state.Allowed {
			c.stats.TriggersAllowed++
		} else {
			c.stats.TriggersDropped++
		}
	}
	k.trigger = active
}

// Suppressed reports the last decision applied.
func (c *Controller) Suppressed() bool { return c.suppressed }

// States returns a copy of every camera's state.
func (c *Controller) States() []State {
	out := make([]State, len(c.cams))
	for i := range c.cams {
		out[i] = c.cams[i].state
	}
	return out
}

// Stats returns the counters.
func (c *Controller) Stats() Stats { return c.stats }
