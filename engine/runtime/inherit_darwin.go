package runtime

import "errors"

func closeRangeOnExec() error { return errors.New("no close_range") }
