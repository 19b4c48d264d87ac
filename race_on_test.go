//go:build race

package main

// raceDetector: memory measured under the race detector is mostly its
// shadow memory, which nothing hands back.
const raceDetector = true
