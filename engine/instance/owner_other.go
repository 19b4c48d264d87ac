//go:build !unix

package instance

import "os"

// Windows keeps a user's profile folders private through ACLs already.
func checkOwner(string, os.FileInfo) error { return nil }
