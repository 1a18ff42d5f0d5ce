package jsonstyle_test

import (
	"fmt"

	"github.com/heraldhq/herald/internal/jsonstyle"
)

func ExampleMarshal() {
	v, err := jsonstyle.Parse([]byte(`{ "amount": 100000.00, "name": "Zo\u00eb", "id": 12345678901234567890 }`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(jsonstyle.Marshal(v, jsonstyle.Compact)))
	fmt.Println(string(jsonstyle.Marshal(v, jsonstyle.Python)))
	// Output:
	// {"amount":100000.00,"name":"Zoë","id":12345678901234567890}
	// {"amount": 100000.0, "name": "Zo\u00eb", "id": 12345678901234567890}
}

func ExampleParse_error() {
	_, err := jsonstyle.Parse([]byte(`{"data":{"items":[{"id":1,"id":2}]}}`))
	fmt.Println(err)
	// Output:
	// invalid JSON at data.items[0].id (byte 26): duplicate key "id"
}

func ExampleValue_Lookup() {
	v, _ := jsonstyle.Parse([]byte(`{"items":[{"id":"a"},{"id":"b"}]}`))
	id, ok := v.Lookup("items.1.id")
	fmt.Println(id.Text, ok)
	// Output:
	// b true
}
