package jsonstyle

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxDepth is how deeply arrays and objects may nest; Parse refuses deeper
// input so that neither this package nor a receiver's parser recurses without
// bound.
const MaxDepth = 200

// maxIntDigits is the most digits an integer may have: Python (3.11 and
// later) refuses to convert longer ones, so a receiver using json.loads could
// not read the body.
const maxIntDigits = 4300

// linearKeys is how many members an object may have before duplicate keys are
// looked up in a map rather than by scanning the members already read: below
// it, comparing strings costs less than building the map.
const linearKeys = 64

// parsers keeps parsers with their scratch stacks between calls, since Parse
// runs on every ingest and every delivery.
var parsers = sync.Pool{New: func() any { return new(parser) }}

// maxPooledScratch bounds the scratch a pooled parser keeps, so one huge
// document does not pin its memory.
const maxPooledScratch = 1 << 12

// SyntaxError says why Parse refused its input.
type SyntaxError struct {
	// Path is where in the document the error is, as "items[3].name"; "" is
	// the top-level value. Keys that contain '.', '[', ']', '"' or control
	// characters, and the empty key, are written as ["key"].
	Path string
	// Offset is the byte offset in the input where the error was found.
	Offset int
	// Msg says what is wrong.
	Msg string
}

// Error says where the input is wrong and why.
func (e *SyntaxError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("invalid JSON at %s (byte %d): %s", e.Path, e.Offset, e.Msg)
}

// prependKey records that the error is inside the object member key.
func (e *SyntaxError) prependKey(key string) {
	seg := key
	if needsQuoting(key) {
		seg = "[" + strconv.Quote(key) + "]"
	}
	e.prepend(seg)
}

// prependIndex records that the error is inside array element i.
func (e *SyntaxError) prependIndex(i int) {
	e.prepend("[" + strconv.Itoa(i) + "]")
}

func (e *SyntaxError) prepend(seg string) {
	switch {
	case e.Path == "":
		e.Path = seg
	case e.Path[0] == '[':
		e.Path = seg + e.Path
	default:
		e.Path = seg + "." + e.Path
	}
}

func needsQuoting(key string) bool {
	if key == "" {
		return true
	}
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c < 0x20, c == 0x7f, c == '.', c == '[', c == ']', c == '"', c == '\\':
			return true
		}
	}
	return false
}

// Parse parses one JSON value strictly. Besides what JSON's grammar forbids,
// it refuses what could not be written again in both styles or would be read
// differently by different receivers: duplicate object keys, invalid UTF-8
// (raw or produced by escapes), lone surrogate escapes, numbers with a
// fraction or exponent beyond the range of a 64-bit float (Python would write
// Infinity), integers longer than Python reads (4300 digits), and nesting
// deeper than MaxDepth. White space around the value is allowed, anything
// else after it is not. Errors are *SyntaxError.
//
// Strings and number texts in the result share one copy of data.
func Parse(data []byte) (Value, error) {
	return ParseString(string(data))
}

// ParseString is Parse for input already held in a string; the result's
// strings share s's memory.
func ParseString(s string) (Value, error) {
	p := parsers.Get().(*parser)
	v, err := p.parse(s)
	p.reset()
	parsers.Put(p)
	if err != nil {
		return Value{}, err
	}
	return v, nil
}

func (p *parser) parse(s string) (Value, *SyntaxError) {
	p.s, p.i, p.depth = s, 0, 0
	v, err := p.value()
	if err != nil {
		return Value{}, err
	}
	p.skipSpace()
	if p.i < len(p.s) {
		return Value{}, &SyntaxError{Offset: p.i, Msg: fmt.Sprintf("unexpected %s after the top-level value", describeByte(p.s[p.i]))}
	}
	return v, nil
}

// reset drops what p refers to, so a pooled parser pins nothing of the last
// document.
func (p *parser) reset() {
	p.s = ""
	// Containers clear what they pop, so only an error leaves anything behind.
	clear(p.items)
	clear(p.members)
	p.items, p.members = p.items[:0], p.members[:0]
	if cap(p.items) > maxPooledScratch {
		p.items = nil
	}
	if cap(p.members) > maxPooledScratch {
		p.members = nil
	}
	if cap(p.buf) > 16*maxPooledScratch {
		p.buf = nil
	}
}

// parser is one run of Parse. items and members are stacks shared by every
// container being read: a container pushes its children and, when it closes,
// copies them out into one slice of the exact size, so each container costs
// one allocation.
type parser struct {
	s       string
	i       int
	depth   int
	items   []Value
	members []Member
	buf     []byte // decoded text of strings with escapes
}

func (p *parser) errf(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// describeByte names a byte for a message.
func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("character %q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (p *parser) value() (Value, *SyntaxError) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return Value{}, p.errf(p.i, "unexpected end of input, want a value")
	}
	switch c := p.s[p.i]; c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		s, err := p.str()
		return Value{Kind: String, Text: s}, err
	case 't':
		return Value{Kind: Bool, Bool: true}, p.literal("true")
	case 'f':
		return Value{Kind: Bool}, p.literal("false")
	case 'n':
		return Value{}, p.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return p.number()
		}
		return Value{}, p.errf(p.i, "unexpected %s, want a value", describeByte(c))
	}
}

func (p *parser) literal(lit string) *SyntaxError {
	if !strings.HasPrefix(p.s[p.i:], lit) {
		return p.errf(p.i, "invalid literal, want %s", lit)
	}
	p.i += len(lit)
	return nil
}

func (p *parser) enter(off int) *SyntaxError {
	p.depth++
	if p.depth > MaxDepth {
		return p.errf(off, "nesting deeper than %d", MaxDepth)
	}
	return nil
}

func (p *parser) array() (Value, *SyntaxError) {
	if err := p.enter(p.i); err != nil {
		return Value{}, err
	}
	p.i++ // '['
	mark := len(p.items)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		return Value{Kind: Array}, nil
	}
	for n := 0; ; n++ {
		v, err := p.value()
		if err != nil {
			err.prependIndex(n)
			return Value{}, err
		}
		p.items = append(p.items, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return Value{}, p.errf(p.i, "unexpected end of input, want ',' or ']'")
		}
		if c := p.s[p.i]; c == ',' {
			p.i++
			continue
		} else if c != ']' {
			return Value{}, p.errf(p.i, "unexpected %s after an array element, want ',' or ']'", describeByte(c))
		}
		p.i++
		break
	}
	items := make([]Value, len(p.items)-mark)
	copy(items, p.items[mark:])
	clear(p.items[mark:])
	p.items = p.items[:mark]
	p.depth--
	return Value{Kind: Array, Items: items}, nil
}

func (p *parser) object() (Value, *SyntaxError) {
	if err := p.enter(p.i); err != nil {
		return Value{}, err
	}
	p.i++ // '{'
	mark := len(p.members)
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.depth--
		return Value{Kind: Object}, nil
	}
	var seen map[string]struct{}
	for {
		p.skipSpace()
		if p.i >= len(p.s) {
			return Value{}, p.errf(p.i, "unexpected end of input, want an object key")
		}
		if c := p.s[p.i]; c != '"' {
			return Value{}, p.errf(p.i, "unexpected %s, want a string key", describeByte(c))
		}
		keyOff := p.i
		key, err := p.str()
		if err != nil {
			return Value{}, err
		}
		if p.isDuplicate(key, mark, &seen) {
			err := p.errf(keyOff, "duplicate key %q", key)
			err.prependKey(key)
			return Value{}, err
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return Value{}, p.errf(p.i, "unexpected end of input, want ':'")
		}
		if c := p.s[p.i]; c != ':' {
			return Value{}, p.errf(p.i, "unexpected %s after an object key, want ':'", describeByte(c))
		}
		p.i++
		v, err := p.value()
		if err != nil {
			err.prependKey(key)
			return Value{}, err
		}
		p.members = append(p.members, Member{Key: key, Value: v})
		p.skipSpace()
		if p.i >= len(p.s) {
			return Value{}, p.errf(p.i, "unexpected end of input, want ',' or '}'")
		}
		if c := p.s[p.i]; c == ',' {
			p.i++
			continue
		} else if c != '}' {
			return Value{}, p.errf(p.i, "unexpected %s after an object member, want ',' or '}'", describeByte(c))
		}
		p.i++
		break
	}
	members := make([]Member, len(p.members)-mark)
	copy(members, p.members[mark:])
	clear(p.members[mark:])
	p.members = p.members[:mark]
	p.depth--
	return Value{Kind: Object, Members: members}, nil
}

// isDuplicate reports whether the object whose members start at mark already
// has key. Small objects are scanned; from linearKeys members on, a map is
// kept so a huge object does not cost quadratic time.
func (p *parser) isDuplicate(key string, mark int, seen *map[string]struct{}) bool {
	if *seen != nil {
		if _, dup := (*seen)[key]; dup {
			return true
		}
		(*seen)[key] = struct{}{}
		return false
	}
	ms := p.members[mark:]
	for i := range ms {
		if ms[i].Key == key {
			return true
		}
	}
	if len(ms) >= linearKeys {
		m := make(map[string]struct{}, 2*len(ms))
		for i := range ms {
			m[ms[i].Key] = struct{}{}
		}
		m[key] = struct{}{}
		*seen = m
	}
	return false
}

// str reads a string starting at the opening quote. A string without escapes
// is a substring of the input; one with escapes is decoded into p.buf.
func (p *parser) str() (string, *SyntaxError) {
	s := p.s
	start := p.i + 1
	for i := start; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			p.i = i + 1
			return s[start:i], nil
		case c == '\\':
			return p.strEscaped(start, i)
		case c < 0x20:
			return "", p.errf(i, "control character U+%04X in a string must be escaped", c)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errf(i, "invalid UTF-8 in a string")
			}
			i += size
		}
	}
	return "", p.errf(len(s), "unexpected end of input in a string")
}

// strEscaped goes on reading a string from i, the first backslash; the
// string's text before it is s[start:i].
func (p *parser) strEscaped(start, i int) (string, *SyntaxError) {
	s := p.s
	b := append(p.buf[:0], s[start:i]...)
	defer func() { p.buf = b }()
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			p.i = i + 1
			return string(b), nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", p.errf(len(s), "unexpected end of input in a string")
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, n, err := p.unicodeEscape(i)
				if err != nil {
					return "", err
				}
				b = utf8.AppendRune(b, r)
				i += n
				continue
			default:
				return "", p.errf(i, "invalid escape \\%s in a string", describeEscape(e))
			}
			i += 2
		case c < 0x20:
			return "", p.errf(i, "control character U+%04X in a string must be escaped", c)
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errf(i, "invalid UTF-8 in a string")
			}
			b = append(b, s[i:i+size]...)
			i += size
		}
	}
	return "", p.errf(len(s), "unexpected end of input in a string")
}

func describeEscape(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return string(c)
	}
	return fmt.Sprintf("(byte 0x%02x)", c)
}

// unicodeEscape reads \uXXXX at i, and the low half that must follow a high
// surrogate. It returns the code point and how many bytes it read.
func (p *parser) unicodeEscape(i int) (rune, int, *SyntaxError) {
	r, ok := hex4(p.s, i+2)
	if !ok {
		return 0, 0, p.errf(i, "invalid \\u escape, want four hex digits")
	}
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return 0, 0, p.errf(i, "lone surrogate \\u%04x in a string (a low half with no high half before it)", r)
	case r >= 0xD800 && r <= 0xDBFF:
		j := i + 6
		if j+1 >= len(p.s) || p.s[j] != '\\' || p.s[j+1] != 'u' {
			return 0, 0, p.errf(i, "lone surrogate \\u%04x in a string (a high half not followed by a \\u low half)", r)
		}
		lo, ok := hex4(p.s, j+2)
		if !ok {
			return 0, 0, p.errf(j, "invalid \\u escape, want four hex digits")
		}
		if lo < 0xDC00 || lo > 0xDFFF {
			return 0, 0, p.errf(i, "lone surrogate \\u%04x in a string (a high half followed by \\u%04x)", r, lo)
		}
		return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), 12, nil
	}
	return r, 6, nil
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (p *parser) number() (Value, *SyntaxError) {
	start := p.i
	end, isFloat, msg := scanNumber(p.s, start)
	if msg != "" {
		return Value{}, p.errf(end, "%s", msg)
	}
	text := p.s[start:end]
	if msg := checkNumberRange(text, isFloat); msg != "" {
		return Value{}, p.errf(start, "%s", msg)
	}
	p.i = end
	return Value{Kind: Number, Text: text}, nil
}

// scanNumber reads the number that starts at s[i] by JSON's grammar,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and returns where it ends
// and whether it has a fraction or exponent. On error msg says what is wrong
// and end is where.
func scanNumber(s string, i int) (end int, isFloat bool, msg string) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s) || !isDigit(s[i]):
		return i, false, "invalid number, want a digit"
	case s[i] == '0':
		i++
		if i < len(s) && isDigit(s[i]) {
			return i, false, "invalid number: leading zero"
		}
	default:
		i = skipDigits(s, i)
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return i, false, "invalid number, want a digit after the decimal point"
		}
		i = skipDigits(s, i)
		isFloat = true
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return i, false, "invalid number, want a digit in the exponent"
		}
		i = skipDigits(s, i)
		isFloat = true
	}
	return i, isFloat, ""
}

// checkNumberRange refuses the numbers that are in JSON's grammar but that
// Python cannot write back as JSON.
func checkNumberRange(text string, isFloat bool) string {
	if isFloat {
		if f, _ := strconv.ParseFloat(text, 64); math.IsInf(f, 0) {
			return fmt.Sprintf("number %s is out of the range of a 64-bit float", abbreviate(text))
		}
		return ""
	}
	if digits := len(strings.TrimPrefix(text, "-")); digits > maxIntDigits {
		return fmt.Sprintf("integer of %d digits is longer than the %d digits Python reads", digits, maxIntDigits)
	}
	return ""
}

func abbreviate(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:20] + "..." + s[len(s)-10:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipDigits(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}
