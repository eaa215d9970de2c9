package can

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// The candump log format, as written by can-utils' `candump -l` and read by
// canplayer, one frame a line:
//
//	(1436509052.249713) vcan0 044#2A366C2BBA       classic, 3-digit standard ID
//	(1436509052.249713) vcan0 1ABCDEF0#00.11.22    extended (8 digits), dots allowed
//	(1436509052.249713) vcan0 123#R                remote; 123#R3 asks for 3 bytes
//	(1436509052.249713) vcan0 123##1AABBCC         FD: a flags nibble (1 BRS, 2 ESI), then data
//	(1436509052.249713) vcan0 123#0011223344556677_C   classic, 8 bytes, DLC 0xC
//	(1436509052.249713123) vcan0 123#00           nanosecond fractions
//
// An optional direction token (R or T, `candump -x`) may follow the frame.
// Error frames (identifiers with the error flag 0x20000000) are counted,
// not returned.

// LogStats counts the lines of a log by outcome. Every line read lands in
// exactly one counter.
type LogStats struct {
	Frames uint64 // returned by ReadFrame
	Blank  uint64 // empty lines and lines starting with '#'
	// Dropped lines, by reason.
	BadTimestamp uint64 // missing or malformed "(sec.frac)"
	BadSyntax    uint64 // truncated line, missing interface or '#', stray characters
	BadID        uint64 // identifier not 3 or 8 hex digits, or out of range
	BadData      uint64 // odd or non-hex data, or a bad _DLC suffix
	BadLength    uint64 // more data than the frame type carries
	TooLong      uint64 // longer than any valid line
	Unsupported  uint64 // CAN XL frames
	ErrorFrames  uint64 // error frames (CAN_ERR_FLAG)
	OtherIface   uint64 // frames of an interface the reader was not asked for
}

// Bad returns the number of lines dropped as malformed.
func (s LogStats) Bad() uint64 {
	return s.BadTimestamp + s.BadSyntax + s.BadID + s.BadData + s.BadLength + s.TooLong + s.Unsupported
}

// maxLogLine bounds a line: a timestamp, an interface name, an FD frame of
// 64 bytes written with dots, and slack.
const maxLogLine = 512

// LogReader reads frames from a candump log. It is a Source: ReadFrame
// returns io.EOF at the end of the log. Malformed lines are counted by
// reason (Stats) and skipped, never returned and never fatal. Frames carry
// the log's timestamps. ReadFrame does not allocate.
type LogReader struct {
	r      *bufio.Reader
	src    io.Reader
	iface  []byte
	stats  LogStats
	closed atomic.Bool
	line   []byte // the current line, for a caller's diagnostics
	ifname [16]byte
	ifn    int
}

var _ Source = (*LogReader)(nil)

// NewLogReader reads a log from r. iface, when not empty, keeps only the
// frames of that interface; the others are counted as OtherIface.
func NewLogReader(r io.Reader, iface string) *LogReader {
	return &LogReader{r: bufio.NewReaderSize(r, maxLogLine+1), src: r, iface: []byte(iface)}
}

// Stats returns the line counters. Call it from the reading goroutine or
// after reading has ended.
func (l *LogReader) Stats() LogStats { return l.stats }

// Iface returns the interface name of the last frame returned.
func (l *LogReader) Iface() string { return string(l.ifname[:l.ifn]) }

// Close stops the reader; a later ReadFrame returns ErrClosed. The
// underlying reader is closed if it is an io.Closer.
func (l *LogReader) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	if c, ok := l.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// ReadFrame implements Source.
func (l *LogReader) ReadFrame(f *Frame) error {
	for {
		if l.closed.Load() {
			return fmt.Errorf("read log: %w", ErrClosed)
		}
		line, err := l.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			l.stats.TooLong++
			if err := l.skipLine(); err != nil {
				return err
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			if l.closed.Load() {
				return fmt.Errorf("read log: %w", ErrClosed)
			}
			return fmt.Errorf("read log: %w", err)
		}
		if len(line) == 0 && err != nil {
			return io.EOF
		}
		l.line = line
		if l.parseLine(line, f) {
			l.stats.Frames++
			return nil
		}
	}
}

// skipLine discards the rest of an over-long line.
func (l *LogReader) skipLine() error {
	for {
		_, err := l.r.ReadSlice('\n')
		switch {
		case err == nil, errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return fmt.Errorf("read log: %w", err)
		}
	}
}

// parseLine parses one line into f, or counts why it cannot.
func (l *LogReader) parseLine(line []byte, f *Frame) bool {
	line = bytes.TrimRight(line, "\r\n")
	line = trimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		l.stats.Blank++
		return false
	}
	ts, rest, ok := parseTimestamp(line)
	if !ok {
		l.stats.BadTimestamp++
		return false
	}
	iface, rest := nextField(rest)
	text, rest := nextField(rest)
	dir, rest := nextField(rest)
	if len(iface) == 0 || len(text) == 0 || len(rest) != 0 || (len(dir) != 0 && !(len(dir) == 1 && (dir[0] == 'R' || dir[0] == 'T'))) {
		l.stats.BadSyntax++
		return false
	}
	var fr Frame
	switch parseFrameText(text, &fr) {
	case nil:
	case errLogID:
		l.stats.BadID++
		return false
	case errLogData:
		l.stats.BadData++
		return false
	case errLogLength:
		l.stats.BadLength++
		return false
	case errLogXL:
		l.stats.Unsupported++
		return false
	case errLogErrorFrame:
		l.stats.ErrorFrames++
		return false
	default:
		l.stats.BadSyntax++
		return false
	}
	if len(l.iface) != 0 && !bytes.Equal(iface, l.iface) {
		l.stats.OtherIface++
		return false
	}
	l.ifn = copy(l.ifname[:], iface)
	fr.Time = ts
	*f = fr
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextField splits off the next space-separated field.
func nextField(b []byte) (field, rest []byte) {
	b = trimSpace(b)
	i := 0
	for i < len(b) && b[i] != ' ' && b[i] != '\t' {
		i++
	}
	return b[:i], b[i:]
}

// parseTimestamp reads "(sec.frac)" with 1 to 9 fraction digits.
func parseTimestamp(b []byte) (time.Time, []byte, bool) {
	if len(b) < 4 || b[0] != '(' {
		return time.Time{}, nil, false
	}
	end := bytes.IndexByte(b, ')')
	if end < 0 {
		return time.Time{}, nil, false
	}
	sec, frac, ok := bytes.Cut(b[1:end], []byte{'.'})
	if !ok || len(sec) == 0 || len(sec) > 12 || len(frac) == 0 || len(frac) > 9 {
		return time.Time{}, nil, false
	}
	var s, ns int64
	for _, c := range sec {
		if c < '0' || c > '9' {
			return time.Time{}, nil, false
		}
		s = s*10 + int64(c-'0')
	}
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			c := frac[i]
			if c < '0' || c > '9' {
				return time.Time{}, nil, false
			}
			ns += int64(c - '0')
		}
	}
	return time.Unix(s, ns).UTC(), b[end+1:], true
}

// Reasons parseFrameText refuses a frame; LogReader counts them apart.
var (
	errLogSyntax     = errors.New("frame text: malformed")
	errLogID         = errors.New("frame text: bad identifier")
	errLogData       = errors.New("frame text: bad data")
	errLogLength     = errors.New("frame text: too much data for the frame type")
	errLogXL         = errors.New("frame text: CAN XL is not supported")
	errLogErrorFrame = errors.New("frame text: error frame")
)

// canErrFlag marks an error frame's identifier in SocketCAN and in logs.
const canErrFlag = 0x20000000

// parseFrameText parses a frame in cansend/candump notation ("123#DEADBEEF",
// "1ABCDEF0#R", "123##1AABB") into f, without its time. It does not
// allocate; its errors are unwrapped sentinels, one per reason.
func parseFrameText(b []byte, f *Frame) error {
	hash := bytes.IndexByte(b, '#')
	if hash < 0 {
		return errLogSyntax
	}
	idText, body := b[:hash], b[hash+1:]
	*f = Frame{}
	var id uint32
	for _, c := range idText {
		n, ok := nibble(c)
		if !ok {
			return errLogID
		}
		id = id<<4 | uint32(n)
	}
	switch len(idText) {
	case 3:
		if id > MaxStandardID {
			return errLogID
		}
	case 8:
		if id&canErrFlag != 0 {
			return errLogErrorFrame
		}
		if id > MaxExtendedID {
			return errLogID
		}
		f.Flags |= Extended
	default:
		return errLogID
	}
	f.ID = id
	switch {
	case len(body) > 0 && body[0] == '#': // FD
		body = body[1:]
		if len(body) == 0 {
			return errLogSyntax
		}
		fl, ok := nibble(body[0])
		if !ok {
			return errLogData
		}
		f.Flags |= FD
		if fl&1 != 0 {
			f.Flags |= BRS
		}
		if fl&2 != 0 {
			f.Flags |= ESI
		}
		n, err := parseHexData(body[1:], f.Data[:])
		if err != nil {
			return err
		}
		l, _ := FDLen(n) // pad to a length an FD frame can have, as a controller does
		f.Len = l
		return nil
	case len(body) > 0 && body[0] == 'R': // remote
		f.Flags |= Remote
		body = body[1:]
		if len(body) == 0 {
			return nil
		}
		n, ok := nibble(body[0])
		if !ok || n > MaxClassicLen {
			return errLogData
		}
		f.Len = n
		return checkDLCSuffix(body[1:], f.Len)
	}
	if bytes.IndexByte(body, ':') >= 0 || bytes.IndexByte(body, '#') >= 0 {
		return errLogXL // "<prio>:<flags>:<sdt>:<vcid>#..." or stray '#'
	}
	data := body
	if i := bytes.IndexByte(body, '_'); i >= 0 {
		data = body[:i]
	}
	n, err := parseHexData(data, f.Data[:MaxClassicLen])
	if err != nil {
		return err
	}
	f.Len = uint8(n)
	return checkDLCSuffix(body[len(data):], f.Len)
}

// checkDLCSuffix accepts "" or "_X", the DLC 9..F of an 8-byte classic frame.
func checkDLCSuffix(b []byte, length uint8) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) != 2 || b[0] != '_' || length != MaxClassicLen {
		return errLogData
	}
	if dlc, ok := nibble(b[1]); !ok || dlc <= MaxClassicLen {
		return errLogData
	}
	return nil
}

// parseHexData reads hex byte pairs, optionally separated by dots, into dst.
func parseHexData(b []byte, dst []byte) (int, error) {
	n := 0
	for i := 0; i < len(b); {
		if b[i] == '.' {
			i++
			continue
		}
		if i+1 >= len(b) {
			return 0, errLogData
		}
		hi, ok1 := nibble(b[i])
		lo, ok2 := nibble(b[i+1])
		if !ok1 || !ok2 {
			return 0, errLogData
		}
		if n == len(dst) {
			return 0, errLogLength
		}
		dst[n] = hi<<4 | lo
		n++
		i += 2
	}
	return n, nil
}

func nibble(c byte) (uint8, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// LogWriter writes frames in the candump log format. It is safe for one
// writer goroutine; Flush (or Close) writes out what is buffered.
type LogWriter struct {
	w     *bufio.Writer
	c     io.Closer
	iface string
	nano  bool
	buf   []byte
}

// NewLogWriter writes a log to w, naming iface on every line (canplayer
// maps interfaces by that name). With nano, fractions have 9 digits
// instead of candump's 6.
func NewLogWriter(w io.Writer, iface string, nano bool) *LogWriter {
	lw := &LogWriter{w: bufio.NewWriter(w), iface: iface, nano: nano, buf: make([]byte, 0, maxLogLine)}
	if c, ok := w.(io.Closer); ok {
		lw.c = c
	}
	return lw
}

// WriteFrame writes one line for f, stamped with f.Time.
func (l *LogWriter) WriteFrame(f *Frame) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	b := l.buf[:0]
	b = append(b, '(')
	sec, nsec := f.Time.Unix(), f.Time.Nanosecond()
	if sec < 0 {
		sec, nsec = 0, 0
	}
	b = appendUint(b, uint64(sec), 10)
	b = append(b, '.')
	if l.nano {
		b = appendUint(b, uint64(nsec), 9)
	} else {
		b = appendUint(b, uint64(nsec/1000), 6)
	}
	b = append(b, ") "...)
	b = append(b, l.iface...)
	b = append(b, ' ')
	b = f.AppendText(b)
	b = append(b, '\n')
	l.buf = b
	if _, err := l.w.Write(b); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}

// appendUint appends v in decimal, zero-padded to width digits.
func appendUint(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || i > len(tmp)-width {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if i == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// Flush writes buffered lines out.
func (l *LogWriter) Flush() error {
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}

// Close flushes and closes the underlying writer if it is an io.Closer.
func (l *LogWriter) Close() error {
	err := l.Flush()
	if l.c != nil {
		if cerr := l.c.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write log: %w", cerr)
		}
	}
	return err
}

// Record writes every frame src delivers to w until src ends (io.EOF) or
// ctx is done, then flushes w. It closes src when ctx is done, which is
// how a blocked read on a bus ends. It returns the number of frames
// written.
func Record(ctx context.Context, src Source, w *LogWriter) (uint64, error) {
	stop := make(chan struct{})
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		select {
		case <-ctx.Done():
			src.Close()
		case <-stop:
		}
	}()
	defer func() { close(stop); <-closed }()
	var n uint64
	var f Frame
	for {
		err := src.ReadFrame(&f)
		if err != nil {
			ferr := w.Flush()
			if errors.Is(err, io.EOF) || (errors.Is(err, ErrClosed) && ctx.Err() != nil) {
				return n, ferr
			}
			return n, errors.Join(fmt.Errorf("record: %w", err), ferr)
		}
		if err := w.WriteFrame(&f); err != nil {
			return n, fmt.Errorf("record: %w", err)
		}
		n++
	}
}
