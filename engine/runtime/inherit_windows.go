package runtime

// Windows passes a child only the handles it is given.
func keepInheritedFromJobs() {}
