package jsonstyle

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the JSON type of a Value.
type Kind uint8

// The JSON types. The zero Kind is Null, so the zero Value is JSON null.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{Null: "null", Bool: "bool", Number: "number", String: "string", Array: "array", Object: "object"}

// String returns the JSON name of the kind ("null", "bool", "number", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a parsed JSON value that keeps object key order and the producer's
// number text.
type Value struct {
	Kind Kind
	Bool bool
	// Text is, for a String, the decoded string (valid UTF-8); for a Number,
	// the number's literal text exactly as written.
	Text string
	// Items are an Array's elements.
	Items []Value
	// Members are an Object's members, in the producer's order.
	Members []Member
}

// Member is one key and value of an Object.
type Member struct {
	Key   string
	Value Value
}

// StringValue returns a JSON string. A string that is not valid UTF-8 is
// written with U+FFFD in place of each invalid byte.
func StringValue(s string) Value { return Value{Kind: String, Text: s} }

// NumberValue returns a JSON number with the given literal text. It panics if
// text is not a number Parse would accept; use ParseNumber for text that comes
// from outside the program.
func NumberValue(text string) Value {
	v, err := ParseNumber(text)
	if err != nil {
		panic(fmt.Sprintf("jsonstyle.NumberValue(%q): %v", text, err))
	}
	return v
}

// ParseNumber returns a JSON number with the given literal text, or a
// *SyntaxError if Parse would refuse text as a number.
func ParseNumber(text string) (Value, error) {
	end, isFloat, msg := scanNumber(text, 0)
	switch {
	case msg != "":
		return Value{}, &SyntaxError{Offset: end, Msg: msg}
	case end != len(text):
		return Value{}, &SyntaxError{Offset: end, Msg: fmt.Sprintf("unexpected %s after the number", describeByte(text[end]))}
	}
	if msg := checkNumberRange(text, isFloat); msg != "" {
		return Value{}, &SyntaxError{Msg: msg}
	}
	return Value{Kind: Number, Text: text}, nil
}

// Int returns a JSON number holding n.
func Int(n int64) Value { return Value{Kind: Number, Text: strconv.FormatInt(n, 10)} }

// BoolValue returns JSON true or false.
func BoolValue(b bool) Value { return Value{Kind: Bool, Bool: b} }

// NullValue returns JSON null (the same as the zero Value).
func NullValue() Value { return Value{} }

// ObjectValue returns a JSON object with the members in the given order. The
// caller must not give the same key twice: the output would then be JSON that
// Parse refuses.
func ObjectValue(members ...Member) Value { return Value{Kind: Object, Members: members} }

// ArrayValue returns a JSON array of the given items.
func ArrayValue(items ...Value) Value { return Value{Kind: Array, Items: items} }

// Get returns the value of key in an Object; ok is false if v is not an
// Object or has no such key.
func (v Value) Get(key string) (Value, bool) {
	if v.Kind != Object {
		return Value{}, false
	}
	for i := range v.Members {
		if v.Members[i].Key == key {
			return v.Members[i].Value, true
		}
	}
	return Value{}, false
}

// Lookup follows a dot path ("a.b.c") through objects, and through arrays for
// segments that are decimal indexes ("items.0.id"). The empty path is v
// itself. ok is false if any step is missing.
func (v Value) Lookup(path string) (Value, bool) {
	if path == "" {
		return v, true
	}
	cur := v
	for {
		seg, rest, more := strings.Cut(path, ".")
		switch cur.Kind {
		case Object:
			next, ok := cur.Get(seg)
			if !ok {
				return Value{}, false
			}
			cur = next
		case Array:
			i, ok := parseIndex(seg)
			if !ok || i >= len(cur.Items) {
				return Value{}, false
			}
			cur = cur.Items[i]
		default:
			return Value{}, false
		}
		if !more {
			return cur, true
		}
		path = rest
	}
}

// parseIndex reads a decimal array index written without sign or leading zeros.
func parseIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Equal reports whether v and w are the same JSON tree: same kinds, same
// strings, numbers with the same text, the same members in the same order. A
// nil and an empty Items or Members are equal.
func (v Value) Equal(w Value) bool {
	if v.Kind != w.Kind {
		return false
	}
	switch v.Kind {
	case Bool:
		return v.Bool == w.Bool
	case Number, String:
		return v.Text == w.Text
	case Array:
		if len(v.Items) != len(w.Items) {
			return false
		}
		for i := range v.Items {
			if !v.Items[i].Equal(w.Items[i]) {
				return false
			}
		}
	case Object:
		if len(v.Members) != len(w.Members) {
			return false
		}
		for i := range v.Members {
			if v.Members[i].Key != w.Members[i].Key || !v.Members[i].Value.Equal(w.Members[i].Value) {
				return false
			}
		}
	}
	return true
}
