// Package deps gives Python scripts their third-party packages the way
// Windmill does, so a script written for Windmill runs here unchanged and
// its lock travels both ways with `wmill sync`.
//
// The steps, each usable alone:
//
//   - Infer reads what a script asks for: top-level imports before
//     `def main(` through the mapping table (mapping.go), or its
//     #requirements: / PEP 723 block, plus #extra_requirements:, pins,
//     and the Python version it wants. Imports of workspace scripts
//     (f/…, u/…, .x) come back as script paths; the caller loads those
//     scripts, infers them too, and combines the results with Merge.
//   - Tools.Resolve turns requirements into a Lock (`# py: X.Y`, then
//     `name==version` lines) with uv when installed, else pip. A lock
//     pushed with a script is used as it is: ParseLock keeps its text.
//   - Cache.Install puts each pinned package into its own folder, once,
//     and returns the folders for PYTHONPATH. Cache.Resolve resolves and
//     installs in one pip run, for a caller that installs right after.
//     Tools.ChoosePython picks the interpreter a script or lock asks for.
//
// Everything that runs pip or uv takes a log writer for the dependency
// job's log, and fails with an *Error worded for the script's author.
//
// The cache is shared by every script of one Python, so no script's
// requirements or lock may decide what another script runs. Hence:
// every requirement and lock line is read as one PEP 508 requirement and
// nothing more (requirement.go), so no text reaches pip or uv as an
// option or as a second line; requirements are given after `--` or in a
// file of lines so checked; only a `name==version` line takes the shared
// `name==version` folder, and only a distribution whose name and version
// (and wheel tags) are checked to be that line's fills it; URL, range and
// hash-pinned lines have folders of their own; environment markers are
// evaluated here, so a line for another platform has no folder at all;
// a lock's --hash values are checked by pip or uv.
//
// Nothing here reaches the network except through pip and uv, which use
// the user's own index configuration (PIP_INDEX_URL, UV_INDEX_URL,
// pip.conf, proxies): Tools.Env is the user's environment, never a job's
// scrubbed one. The one exception is a TCP connect to the index after
// pip reported a package missing, to tell "not on the index" from
// "offline" (pip without retries says the same for both).
//
// What the caller owns: keeping a working lock when a new one fails to
// resolve, resolving once per script version, loading relatively
// imported scripts, a fallback wmill module when the index has none
// (FailedFor, Requirements.Without, Lock.Without), calling Cache.Sweep
// at start, and showing Cache.Size / Cache.Clear in Settings.
package deps
