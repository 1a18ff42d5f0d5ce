package jsonstyle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// styleCase is one known answer: a producer's body and what each style writes.
type styleCase struct {
	Producer string `json:"producer"`
	Compact  string `json:"compact"`
	Python   string `json:"python"`
}

func loadCases(t *testing.T, path string) []styleCase {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read known answers: %v", err)
	}
	var cases []styleCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s has no cases", path)
	}
	return cases
}

// checkCase parses the producer's body and writes it in both styles, and
// checks that each style's output is a fixed point of parse-and-write.
func checkCase(t *testing.T, c styleCase) {
	t.Helper()
	v, err := Parse([]byte(c.Producer))
	if err != nil {
		t.Fatalf("Parse(%q): %v", c.Producer, err)
	}
	if got := string(Marshal(v, Compact)); got != c.Compact {
		t.Errorf("compact of %q:\n got %q\nwant %q", c.Producer, got, c.Compact)
	}
	if got := string(Marshal(v, Python)); got != c.Python {
		t.Errorf("python of %q:\n got %q\nwant %q", c.Producer, got, c.Python)
	}
	for _, st := range []struct {
		style Style
		out   string
	}{{Compact, c.Compact}, {Python, c.Python}} {
		again, err := Parse([]byte(st.out))
		if err != nil {
			t.Fatalf("Parse of the expected %s output %q: %v", st.style, st.out, err)
		}
		if got := string(Marshal(again, st.style)); got != st.out {
			t.Errorf("%s output is not stable: %q written again is %q", st.style, st.out, got)
		}
	}
}

func TestSpecVectors(t *testing.T) {
	t.Parallel()
	for i, c := range loadCases(t, filepath.Join("testdata", "json-styles.json")) {
		t.Run(fmt.Sprintf("case%02d", i), func(t *testing.T) {
			t.Parallel()
			checkCase(t, c)
		})
	}
}

// TestDocsExamples: every known answer docs/formats.md shows, in the
// table under "JSON styles", is what each style writes.
func TestDocsExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "formats.md"))
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	const header = "| producer posts | `compact` writes | `python` writes |"
	_, table, ok := strings.Cut(string(doc), header+"\n|---|---|---|\n")
	if !ok {
		t.Fatalf("docs/formats.md has no table starting %q", header)
	}
	code := regexp.MustCompile("`([^`]*)`")
	n := 0
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := code.FindAllStringSubmatch(line, -1)
		if len(cells) != 3 {
			t.Fatalf("row %q: %d code cells, want 3", line, len(cells))
		}
		checkCase(t, styleCase{Producer: cells[0][1], Compact: cells[1][1], Python: cells[2][1]})
		n++
	}
	if n < 5 {
		t.Fatalf("%d rows in the docs' table of known answers, want at least 5", n)
	}
}

func TestExtraVectors(t *testing.T) {
	t.Parallel()
	cases := loadCases(t, filepath.Join("testdata", "extra-styles.json"))
	if len(cases) < 40 {
		t.Fatalf("extra-styles.json has %d cases, want at least 40", len(cases))
	}
	for _, c := range cases {
		name := c.Producer
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkCase(t, c)
		})
	}
}

// TestPythonFloats checks repr(float(text)) for thousands of numbers that
// Python itself wrote down (testdata/generate.py).
func TestPythonFloats(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "python-floats.json"))
	if err != nil {
		t.Fatalf("read known answers: %v", err)
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		t.Fatalf("decode python-floats.json: %v", err)
	}
	if len(pairs) < 1000 {
		t.Fatalf("python-floats.json has %d pairs, want at least 1000", len(pairs))
	}
	bad := 0
	for _, p := range pairs {
		v, err := ParseNumber(p[0])
		if err != nil {
			t.Errorf("ParseNumber(%q): %v", p[0], err)
			continue
		}
		if got := string(Marshal(v, Python)); got != p[1] {
			t.Errorf("python of %s: got %s, want %s", p[0], got, p[1])
			if bad++; bad > 20 {
				t.Fatal("too many mismatches")
			}
		}
		if got := string(Marshal(v, Compact)); got != p[0] {
			t.Errorf("compact of %s: got %s, want it unchanged", p[0], got)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	deepObj := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	var many strings.Builder
	many.WriteString("{")
	for i := range 40 {
		many.WriteString(`"k` + strconv.Itoa(i) + `":1,`)
	}
	many.WriteString(`"k25":2}`) // the map, not the scan, finds this one
	tests := []struct {
		name, in string
		path     string
		offset   int
		msg      string
	}{
		{"empty", "", "", 0, "unexpected end of input"},
		{"only space", " \n\t", "", 3, "unexpected end of input"},
		{"duplicate key", `{"a":1,"a":2}`, "a", 7, `duplicate key "a"`},
		{"duplicate key nested", `{"x":{"items":[{"id":1},{"id":2,"id":3}]}}`, "x.items[1].id", 32, `duplicate key "id"`},
		{"duplicate key after escape", `{"a":1,"\u0061":2}`, "a", 7, `duplicate key "a"`},
		{"duplicate key in a large object", many.String(), "k25", strings.LastIndex(many.String(), `"k25"`), `duplicate key "k25"`},
		{"invalid UTF-8", "\"a\xffb\"", "", 2, "invalid UTF-8"},
		{"invalid UTF-8 after escape", "\"\\n\xc3\x28\"", "", 3, "invalid UTF-8"},
		{"UTF-8 encoded surrogate", "\"\xed\xa0\x80\"", "", 1, "invalid UTF-8"},
		{"overlong UTF-8", "\"\xc0\xaf\"", "", 1, "invalid UTF-8"},
		{"invalid UTF-8 in key", "{\"\xff\":1}", "", 2, "invalid UTF-8"},
		{"lone high surrogate", `"\ud800"`, "", 1, "lone surrogate"},
		{"lone high surrogate then text", `"\ud83dx"`, "", 1, "lone surrogate"},
		{"high surrogate then high", `"\ud83d\ud83d"`, "", 1, "lone surrogate"},
		{"high surrogate then BMP escape", `"\ud83d\u0041"`, "", 1, "lone surrogate"},
		{"lone low surrogate", `{"a":["\ude00"]}`, "a[0]", 7, "lone surrogate"},
		{"short unicode escape", `"\u12"`, "", 1, "four hex digits"},
		{"bad escape", `"\x"`, "", 1, `invalid escape \x`},
		{"raw control character", "\"a\tb\"", "", 2, "control character U+0009"},
		{"raw newline", "\"a\nb\"", "", 2, "control character U+000A"},
		{"unterminated string", `"abc`, "", 4, "unexpected end of input in a string"},
		{"leading zero", "01", "", 1, "leading zero"},
		{"leading zero negative", "-01", "", 2, "leading zero"},
		{"point without fraction", "1.", "", 2, "digit after the decimal point"},
		{"point without integer", ".5", "", 0, "unexpected character '.'"},
		{"plus sign", "+1", "", 0, "unexpected character '+'"},
		{"minus alone", "-", "", 1, "want a digit"},
		{"exponent without digits", "1e", "", 2, "digit in the exponent"},
		{"exponent sign without digits", "1e+", "", 3, "digit in the exponent"},
		{"NaN", "NaN", "", 0, "unexpected character 'N'"},
		{"Infinity", "[Infinity]", "[0]", 1, "unexpected character 'I'"},
		{"minus Infinity", "-Infinity", "", 1, "want a digit"},
		{"hex", "0x10", "", 1, "unexpected character 'x' after the top-level value"},
		{"float overflow", "1e400", "", 0, "out of the range of a 64-bit float"},
		{"float overflow negative", `{"n":-1.8e308}`, "n", 5, "out of the range of a 64-bit float"},
		{"float overflow just above max", "1.7976931348623159e308", "", 0, "out of the range"},
		{"integer too long for Python", strings.Repeat("9", 4301), "", 0, "4301 digits"},
		{"trailing garbage", `{"a":1}x`, "", 7, "unexpected character 'x' after the top-level value"},
		{"two values", "1 2", "", 2, "after the top-level value"},
		{"trailing comma array", "[1,]", "[1]", 3, "unexpected character ']'"},
		{"trailing comma object", `{"a":1,}`, "", 7, "want a string key"},
		{"single quotes", `{'a':1}`, "", 1, "want a string key"},
		{"missing colon", `{"a" 1}`, "", 5, "want ':'"},
		{"missing comma", `[1 2]`, "", 3, "want ',' or ']'"},
		{"unclosed array", `[1`, "", 2, "unexpected end of input"},
		{"unclosed object", `{"a":1`, "", 6, "unexpected end of input"},
		{"bad literal", "tru", "", 0, "want true"},
		{"literal prefix", "nulls", "", 4, "after the top-level value"},
		{"BOM", "\xef\xbb\xbf{}", "", 0, "byte 0xef"},
		{"comment", "[1/*x*/]", "", 2, "unexpected character '/'"},
		{"too deep arrays", deep, strings.Repeat("[0]", MaxDepth), MaxDepth, "nesting deeper than 200"},
		{"too deep objects", deepObj, strings.TrimSuffix(strings.Repeat("a.", MaxDepth), "."), 5 * MaxDepth, "nesting deeper than 200"},
		{"odd key in path", `{"a.b":{"":[{"x":.1}]}}`, `["a.b"][""][0].x`, 17, "unexpected character '.'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse(%q) accepted it, want an error containing %q", abbreviate(tc.in), tc.msg)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error is %T (%v), want *SyntaxError", err, err)
			}
			if !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("Msg = %q, want it to contain %q", se.Msg, tc.msg)
			}
			if se.Path != tc.path {
				t.Errorf("Path = %q, want %q", abbreviate(se.Path), abbreviate(tc.path))
			}
			if se.Offset != tc.offset {
				t.Errorf("Offset = %d, want %d (msg %q)", se.Offset, tc.offset, se.Msg)
			}
		})
	}
}

func TestParseLimitsAccepted(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"200 nested arrays":       strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
		"200 nested objects":      strings.Repeat(`{"a":`, MaxDepth-1) + "{}" + strings.Repeat("}", MaxDepth-1),
		"4300-digit integer":      strings.Repeat("7", 4300),
		"negative 4300 digits":    "-" + strings.Repeat("7", 4300),
		"long fraction":           "0." + strings.Repeat("1", 5000),
		"underflow to zero":       "1e-400",
		"max float":               "1.7976931348623157e308",
		"wide object":             wideObject(1000),
		"same key in two objects": `[{"a":1},{"a":2}]`,
		"same key nested":         `{"a":{"a":{"a":1}}}`,
		"keys differing by case":  `{"a":1,"A":2}`,
		"escaped NUL":             `"\u0000"`,
		"escaped slash":           `"\/"`,
		"raw DEL":                 "\"\x7f\"",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v, err := Parse([]byte(in))
			if err != nil {
				t.Fatalf("Parse rejected it: %v", err)
			}
			for _, s := range []Style{Compact, Python} {
				if out := Marshal(v, s); !json.Valid(out) {
					t.Errorf("%s output is not valid JSON: %q", s, abbreviate(string(out)))
				}
			}
		})
	}
}

func wideObject(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"key` + itoa(i) + `":` + itoa(i))
	}
	b.WriteString("}")
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestParseKeepsTextAndOrder(t *testing.T) {
	t.Parallel()
	v, err := Parse([]byte(`{"z":1.50,"a":[1e5,-0,"x\u00e9\ud83d\ude00"],"m":{}}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := ObjectValue(
		Member{"z", NumberValue("1.50")},
		Member{"a", ArrayValue(NumberValue("1e5"), NumberValue("-0"), StringValue("xé😀"))},
		Member{"m", ObjectValue()},
	)
	if !v.Equal(want) {
		t.Fatalf("Parse gave %s, want %s", Marshal(v, Compact), Marshal(want, Compact))
	}
	if v.Members[0].Key != "z" || v.Members[1].Key != "a" || v.Members[2].Key != "m" {
		t.Errorf("keys out of the producer's order: %q %q %q", v.Members[0].Key, v.Members[1].Key, v.Members[2].Key)
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`{"data":{"items":[0,1,2,{"name":"a\ud800"}]}}`))
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *SyntaxError", err)
	}
	if se.Path != "data.items[3].name" {
		t.Errorf("Path = %q, want %q", se.Path, "data.items[3].name")
	}
	want := `invalid JSON at data.items[3].name (byte 34): lone surrogate \ud800 in a string (a high half not followed by a \u low half)`
	if se.Error() != want {
		t.Errorf("Error() =\n%q\nwant\n%q", se.Error(), want)
	}
	_, err = Parse([]byte("[1,"))
	if want := "invalid JSON at [1] (byte 3): unexpected end of input, want a value"; err == nil || err.Error() != want {
		t.Errorf("Error() = %v, want %q", err, want)
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	v, err := Parse([]byte(`{"a":{"b":{"c":"deep"}},"items":[{"id":7},{"id":8}],"0":"zero key","":"empty","n":null}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		path string
		want string // compact output, or "" when missing
	}{
		{"", string(Marshal(v, Compact))},
		{"a", `{"b":{"c":"deep"}}`},
		{"a.b.c", `"deep"`},
		{"items.0.id", "7"},
		{"items.1", `{"id":8}`},
		{"0", `"zero key"`},
		{"n", "null"},
		{"a.b.c.d", ""},
		{"a.x", ""},
		{"items.2", ""},
		{"items.01", ""},
		{"items.-1", ""},
		{"items.id", ""},
		{"items.99999999999999999999", ""},
		{"missing", ""},
		{"a.", ""},
	}
	for _, tc := range tests {
		got, ok := v.Lookup(tc.path)
		switch {
		case tc.want == "" && ok:
			t.Errorf("Lookup(%q) = %s, want missing", tc.path, Marshal(got, Compact))
		case tc.want != "" && !ok:
			t.Errorf("Lookup(%q) missing, want %s", tc.path, tc.want)
		case tc.want != "" && string(Marshal(got, Compact)) != tc.want:
			t.Errorf("Lookup(%q) = %s, want %s", tc.path, Marshal(got, Compact), tc.want)
		}
	}
	if _, ok := StringValue("x").Lookup("a"); ok {
		t.Error(`Lookup("a") on a string found something, want missing`)
	}
}

func TestConstructors(t *testing.T) {
	t.Parallel()
	v := ObjectValue(
		Member{"s", StringValue("é\n")},
		Member{"n", NumberValue("1e5")},
		Member{"i", Int(-42)},
		Member{"min", Int(-9223372036854775808)},
		Member{"t", BoolValue(true)},
		Member{"f", BoolValue(false)},
		Member{"z", NullValue()},
		Member{"a", ArrayValue()},
		Member{"o", ObjectValue()},
	)
	if got, want := string(Marshal(v, Compact)), `{"s":"é\n","n":1e5,"i":-42,"min":-9223372036854775808,"t":true,"f":false,"z":null,"a":[],"o":{}}`; got != want {
		t.Errorf("compact:\n got %s\nwant %s", got, want)
	}
	if got, want := string(Marshal(v, Python)), `{"s": "\u00e9\n", "n": 100000.0, "i": -42, "min": -9223372036854775808, "t": true, "f": false, "z": null, "a": [], "o": {}}`; got != want {
		t.Errorf("python:\n got %s\nwant %s", got, want)
	}
	for _, bad := range []string{"", "01", "1.", ".5", "+1", "NaN", "1e400", "1 ", " 1", "1x", "--1"} {
		if _, err := ParseNumber(bad); err == nil {
			t.Errorf("ParseNumber(%q) accepted it, want an error", bad)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NumberValue(%q) did not panic", bad)
				}
			}()
			NumberValue(bad)
		}()
	}
	if got := Append([]byte("x="), Int(5), Python); string(got) != "x=5" {
		t.Errorf("Append kept %q, want %q", got, "x=5")
	}
}

func TestAppendMalformedStaysValid(t *testing.T) {
	t.Parallel()
	v := ArrayValue(
		StringValue("a\xffb"),
		Value{Kind: Number, Text: "01"},
		Value{Kind: Number, Text: ""},
		Value{Kind: Number, Text: "1e400"},
		Value{Kind: Kind(99)},
	)
	tests := map[Style]string{
		Compact: "[\"a\uFFFDb\",null,null,1e400,null]",
		Python:  `["a\ufffdb", null, null, null, null]`,
	}
	for s, want := range tests {
		got := Marshal(v, s)
		if string(got) != want {
			t.Errorf("%s:\n got %s\nwant %s", s, got, want)
		}
		if !json.Valid(got) {
			t.Errorf("%s output is not valid JSON: %s", s, got)
		}
	}
	if got := Kind(99).String(); got != "kind(99)" {
		t.Errorf("Kind(99).String() = %q, want %q", got, "kind(99)")
	}
	if got := Object.String(); got != "object" {
		t.Errorf("Object.String() = %q, want %q", got, "object")
	}
}

func TestParseStyle(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Style{"": Compact, "compact": Compact, "python": Python} {
		got, err := ParseStyle(in)
		if err != nil || got != want {
			t.Errorf("ParseStyle(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Python", "js", " compact", "pretty"} {
		_, err := ParseStyle(in)
		if !errors.Is(err, herald.ErrInvalid) {
			t.Errorf("ParseStyle(%q) error = %v, want one that wraps herald.ErrInvalid", in, err)
		}
	}
}

func TestStringEscapesEveryByte(t *testing.T) {
	t.Parallel()
	// Every ASCII character written alone, checked against the rules rather
	// than against this package's own tables.
	for c := 0; c < 0x80; c++ {
		s := string(rune(c))
		var compact, python string
		switch {
		case c == '"':
			compact, python = `"\""`, `"\""`
		case c == '\\':
			compact, python = `"\\"`, `"\\"`
		case c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
			e := map[int]string{'\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}[c]
			compact, python = `"`+e+`"`, `"`+e+`"`
		case c < 0x20:
			e := `\u00` + string(hexDigits[c>>4]) + string(hexDigits[c&0xf])
			compact, python = `"`+e+`"`, `"`+e+`"`
		case c == 0x7f:
			compact, python = "\"\x7f\"", `"\u007f"`
		default:
			compact, python = `"`+s+`"`, `"`+s+`"`
		}
		if got := string(Marshal(StringValue(s), Compact)); got != compact {
			t.Errorf("compact of U+%04X = %q, want %q", c, got, compact)
		}
		if got := string(Marshal(StringValue(s), Python)); got != python {
			t.Errorf("python of U+%04X = %q, want %q", c, got, python)
		}
	}
}

// FuzzParseWrite checks that whatever Parse accepts can be written in both
// styles as valid JSON, that the compact style gives back the same tree and
// bytes, and that both styles are fixed points of parse-and-write.
func FuzzParseWrite(f *testing.F) {
	for _, file := range []string{"json-styles.json", "extra-styles.json"} {
		raw, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatalf("read seeds: %v", err)
		}
		var cases []styleCase
		if err := json.Unmarshal(raw, &cases); err != nil {
			f.Fatalf("decode seeds: %v", err)
		}
		for _, c := range cases {
			f.Add([]byte(c.Producer))
		}
	}
	for _, s := range []string{
		`{"a":1,"a":2}`, `"\ud800"`, `"\udc00\ud800"`, "\"\xff\"", "01", "1.", "-", "1e400", "1e-400", "-0.0",
		"[[[[]]]]", `{"":{"":[]}}`, `"\u0000\u001f\u007f\u2028"`, " [ 1 , { \"b\" : null } ] ", "1e+16", "0.00001",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error is %T, want *SyntaxError", err)
			}
			if se.Offset < 0 || se.Offset > len(data) {
				t.Fatalf("error offset %d outside the input of %d bytes", se.Offset, len(data))
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Parse accepted %q, which encoding/json says is not JSON", data)
		}
		compact := Marshal(v, Compact)
		python := Marshal(v, Python)
		for s, out := range map[Style][]byte{Compact: compact, Python: python} {
			if !json.Valid(out) {
				t.Fatalf("%s output of %q is not valid JSON: %q", s, data, out)
			}
		}
		back, err := Parse(compact)
		if err != nil {
			t.Fatalf("compact output %q does not parse: %v", compact, err)
		}
		if !back.Equal(v) {
			t.Fatalf("compact output %q parses to a different value than %q", compact, data)
		}
		if again := Marshal(back, Compact); !bytes.Equal(again, compact) {
			t.Fatalf("compact is not stable: %q then %q", compact, again)
		}
		pyBack, err := Parse(python)
		if err != nil {
			t.Fatalf("python output %q does not parse: %v", python, err)
		}
		if again := Marshal(pyBack, Python); !bytes.Equal(again, python) {
			t.Fatalf("python is not stable: %q then %q", python, again)
		}
		if !bytes.Equal(Marshal(pyBack, Compact), Marshal(back, Compact)) && !hasNumber(v) {
			t.Fatalf("python and compact outputs hold different values: %q vs %q", python, compact)
		}
		if bytes.ContainsFunc(python, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			t.Fatalf("python output has a byte outside space..'~': %q", python)
		}
	})
}

// hasNumber reports whether v holds a number anywhere (the styles may write
// numbers differently).
func hasNumber(v Value) bool {
	switch v.Kind {
	case Number:
		return true
	case Array:
		for _, it := range v.Items {
			if hasNumber(it) {
				return true
			}
		}
	case Object:
		for _, m := range v.Members {
			if hasNumber(m.Value) {
				return true
			}
		}
	}
	return false
}

// benchBody is a typical event of about 1 KiB.
var benchBody = []byte(`{"id":"evt_01JH8ZQ3Y5V9K2M7N4P6R8T0WX","type":"invoice.payment_succeeded","created":1736142079,
"data":{"object":{"id":"in_1QeXyZ2eZvKYlo2C","object":"invoice","amount_due":199900,"amount_paid":199900,
"currency":"eur","customer":"cus_RZ4kLmN8pQ2sT6","customer_email":"zoë.müller@example.com",
"customer_name":"Zoë Müller","description":"Abonnement \u00abPro\u00bb – janvier","discount":null,
"lines":[{"id":"il_1","amount":149900,"description":"Pro plan × 1","period":{"start":1735689600,"end":1738368000},"quantity":1,"unit_amount_decimal":"149900"},
{"id":"il_2","amount":50000,"description":"Seats × 5","period":{"start":1735689600,"end":1738368000},"quantity":5,"unit_amount_decimal":"10000.00"}],
"metadata":{"order":"A-10042","note":"Line one\nLine two\t(tab) \"quoted\" <b>&</b>","emoji":"\ud83d\ude80"},
"tax":{"rate":0.2,"amount":33316.67,"inclusive":true},"total":199900,"paid":true,"attempt_count":1,
"status_transitions":{"finalized_at":1736142070,"paid_at":1736142079,"voided_at":null}},
"previous_attributes":{"status":"open","amount_paid":0}},"livemode":false,"api_version":"2025-01-15"}`)

func BenchmarkParseMarshal(b *testing.B) {
	for _, s := range []Style{Compact, Python} {
		b.Run(string(s), func(b *testing.B) {
			b.SetBytes(int64(len(benchBody)))
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				v, err := Parse(benchBody)
				if err != nil {
					b.Fatal(err)
				}
				out = Append(out[:0], v, s)
			}
		})
	}
}
