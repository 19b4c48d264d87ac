//go:build windows

package main

// Windows has no tz database of its own for Go to read: without this a
// schedule in any zone but UTC and Local cannot be made there.
import _ "time/tzdata"
