// Package clock owns Herald's notion of time: the Clock every service is
// given instead of calling time.Now, and Fake, a clock tests move by hand so
// that retries, leases and schedules are tested in milliseconds instead of
// by sleeping.
package clock
