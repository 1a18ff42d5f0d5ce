package delivery

// TestResult is the outcome of a synchronous test send
// (POST .../endpoints/{id}/test).
type TestResult struct {
	DeliveryID   string `json:"delivery_id"`
	Status       string `json:"status"` // delivered or failed
	ResponseCode int    `json:"response_code"`
	ResponseBody string `json:"response_body"`
	DurationMS   int64  `json:"duration_ms"`
	Error        string `json:"error"`
}
