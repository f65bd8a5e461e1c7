package runtime

import "time"

// guestClock is the monotonic clock (WASI's CLOCK_MONOTONIC) of a snapshot
// instance. It resumes from the guest's own last reading instead of
// following the host's clock: every fresh invocation starts from a snapshot
// taken at one instant, and if its clock jumped by the minutes or hours
// since, the guest's runtime would find all its timers overdue at once, on
// every request (the Go runtime's scavenger, pacer and timer work). Time
// passes at the real rate while the guest runs, so sleeps, timeouts and
// measured durations are right; only the time between invocations, when the
// guest does not run, is left out. The wall clock (CLOCK_REALTIME) stays the
// host's.
//
// A clock is read only by its instance, which runs one invocation at a time,
// and resumed between invocations by the goroutine that runs the next one,
// after the instance pool's lock: no further synchronization is needed.
type guestClock struct {
	base    int64     // guest time when the current run began, or when the last ended
	start   time.Time // host time when the current run began
	running bool
}

// nanotime implements sys.Nanotime.
func (c *guestClock) nanotime() int64 {
	if !c.running {
		return c.base
	}
	return c.base + int64(time.Since(c.start))
}

// resume starts a run of the guest at guest time base.
func (c *guestClock) resume(base int64) {
	c.base, c.start, c.running = base, time.Now(), true
}

// pause stops the clock at the end of a run; a later resume(c.nanotime())
// continues from there.
func (c *guestClock) pause() {
	c.base, c.running = c.nanotime(), false
}
