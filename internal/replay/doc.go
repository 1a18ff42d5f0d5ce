// Package replay owns replays, for the API, the dashboard and the CLI: the
// rules of a replay's window and filters, and the runner that carries every
// running replay to its end, batch by batch, on whichever node holds its
// lease, so that a replay of hundreds of thousands of deliveries holds no
// lock for long and a restart resumes it. Queuing the deliveries again is
// the store's (ReplayStep); sending them, the engine's.
package replay
