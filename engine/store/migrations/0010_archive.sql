-- Windmill's archive: an archived script or flow keeps its versions (runs
-- by hash go on) but is gone from lists and from runs by path, until a new
-- version is saved at its path or it is unarchived.
ALTER TABLE scripts ADD COLUMN archived_at INTEGER;
ALTER TABLE flows ADD COLUMN archived_at INTEGER;
