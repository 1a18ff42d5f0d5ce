package jsonstyle

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// Style is how a body is written.
type Style string

// The styles a format may choose.
const (
	// Compact is what JavaScript's JSON.stringify writes: no white space,
	// only the escapes JSON requires, numbers as the producer wrote them.
	Compact Style = "compact"
	// Python is what Python's json.dumps(json.loads(body)) writes with its
	// defaults: ", " and ": " separators, everything outside ASCII escaped,
	// floats as Python's repr.
	Python Style = "python"
)

// ParseStyle reads a format's "json" setting: "" is Compact, and anything but
// "compact" and "python" is an error that wraps herald.ErrInvalid.
func ParseStyle(s string) (Style, error) {
	switch Style(s) {
	case "", Compact:
		return Compact, nil
	case Python:
		return Python, nil
	}
	return "", fmt.Errorf("json style %q: must be %q or %q: %w", s, Compact, Python, herald.ErrInvalid)
}

// Marshal writes v in style s.
func Marshal(v Value, s Style) []byte {
	return Append(nil, v, s)
}

// Append writes v in style s to dst and returns the extended slice. Any Style
// other than Python writes Compact.
//
// The output is always valid JSON. Values that Parse and the constructors
// never make are written as follows: a String that is not valid UTF-8 with
// U+FFFD for each bad byte; a Number whose text Parse would refuse, and a
// Value of unknown Kind, as null.
func Append(dst []byte, v Value, s Style) []byte {
	if s == Python {
		return appendPython(dst, &v)
	}
	return appendCompact(dst, &v)
}

func appendCompact(dst []byte, v *Value) []byte {
	switch v.Kind {
	case Bool:
		if v.Bool {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case Number:
		if _, ok := numberKind(v.Text); !ok {
			return append(dst, "null"...)
		}
		return append(dst, v.Text...)
	case String:
		return appendCompactString(dst, v.Text)
	case Array:
		dst = append(dst, '[')
		for i := range v.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCompact(dst, &v.Items[i])
		}
		return append(dst, ']')
	case Object:
		dst = append(dst, '{')
		for i := range v.Members {
			if i > 0 {
				dst = append(dst, ',')
			}
			m := &v.Members[i]
			dst = appendCompactString(dst, m.Key)
			dst = append(dst, ':')
			dst = appendCompact(dst, &m.Value)
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

func appendPython(dst []byte, v *Value) []byte {
	switch v.Kind {
	case Bool:
		if v.Bool {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case Number:
		return appendPythonNumber(dst, v.Text)
	case String:
		return appendPythonString(dst, v.Text)
	case Array:
		dst = append(dst, '[')
		for i := range v.Items {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendPython(dst, &v.Items[i])
		}
		return append(dst, ']')
	case Object:
		dst = append(dst, '{')
		for i := range v.Members {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			m := &v.Members[i]
			dst = appendPythonString(dst, m.Key)
			dst = append(dst, ": "...)
			dst = appendPython(dst, &m.Value)
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

// numberKind reports whether text is a number by JSON's grammar and whether
// it has a fraction or exponent.
func numberKind(text string) (isFloat, ok bool) {
	end, isFloat, msg := scanNumber(text, 0)
	return isFloat, msg == "" && end == len(text)
}

// appendPythonNumber writes what Python's json.dumps writes for the number
// json.loads reads from text: an int keeps its digits (Python's int has no
// negative zero), a float is written as repr(float(text)).
func appendPythonNumber(dst []byte, text string) []byte {
	isFloat, ok := numberKind(text)
	switch {
	case !ok:
		return append(dst, "null"...)
	case !isFloat:
		if text == "-0" {
			return append(dst, '0')
		}
		return append(dst, text...)
	}
	f, _ := strconv.ParseFloat(text, 64)
	if math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	return appendPythonFloat(dst, f)
}

// appendPythonFloat writes Python's repr of a finite float: the shortest
// digits that read back as f (which Go and Python both find), in scientific
// notation when the decimal exponent is below -4 or at least 16 (with a sign
// and at least two exponent digits, as Go's 'e' format also writes), and
// otherwise positional with at least one digit after the point.
func appendPythonFloat(dst []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // "-d.ddde±XX"
	ePos := len(e) - 1
	for e[ePos] != 'e' {
		ePos--
	}
	exp := 0
	for _, c := range e[ePos+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[ePos+1] == '-' {
		exp = -exp
	}
	if exp < -4 || exp >= 16 {
		return append(dst, e...)
	}
	mant := e[:ePos]
	if mant[0] == '-' {
		dst = append(dst, '-')
		mant = mant[1:]
	}
	// The digits without the point: mant is "d" or "d.ddd".
	var digits [24]byte
	nd := copy(digits[:], mant[:1])
	if len(mant) > 2 {
		nd += copy(digits[nd:], mant[2:])
	}
	d := digits[:nd]
	if exp < 0 {
		dst = append(dst, "0."...)
		for range -exp - 1 {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	if len(d) <= exp+1 {
		dst = append(dst, d...)
		for range exp + 1 - len(d) {
			dst = append(dst, '0')
		}
		return append(dst, ".0"...)
	}
	dst = append(dst, d[:exp+1]...)
	dst = append(dst, '.')
	return append(dst, d[exp+1:]...)
}

const hexDigits = "0123456789abcdef"

// shortEscape is the two-character escape of a byte, or 0 if it has none.
var shortEscape = [256]byte{'"': '"', '\\': '\\', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't'}

// compactPlain marks the ASCII bytes written as they are in compact style.
// Bytes from 0x80 up are UTF-8 and written as they are once checked.
var compactPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// pythonPlain marks the bytes Python's ensure_ascii writes as they are:
// space to '~', less '"' and '\\'.
var pythonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendEscapedByte writes an ASCII byte that is not plain: a short escape
// if it has one, otherwise \u00xx.
func appendEscapedByte(dst []byte, c byte) []byte {
	if e := shortEscape[c]; e != 0 {
		return append(dst, '\\', e)
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

func appendCompactString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if compactPlain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedByte(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendPythonString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if pythonPlain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedByte(dst, c)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		r, size := utf8.DecodeRuneInString(s[i:]) // an invalid byte is U+FFFD
		if r >= 0x10000 {
			r -= 0x10000
			dst = appendU4(dst, 0xD800+r>>10)
			dst = appendU4(dst, 0xDC00+r&0x3ff)
		} else {
			dst = appendU4(dst, r)
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
