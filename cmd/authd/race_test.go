//go:build race

package main

// raceEnabled: this test binary, and so the authd the drills start from it, carries the race
// detector, which multiplies memory use several times over.
const raceEnabled = true
