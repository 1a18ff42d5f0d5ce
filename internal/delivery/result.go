package delivery

// TestResult is the outcome of a synchronous test send: what the receiver
// answered, or why the attempt failed.
type TestResult struct {
	DeliveryID   string
	Status       string // store.StatusDelivered or store.StatusFailed
	ResponseCode int
	ResponseBody string
	DurationMS   int64
	Error        string
}
