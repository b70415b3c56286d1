-- threatintel PostgreSQL store, migration 9: room on each page of `names` for the new version of
-- a row that an import gives a kind bit (a name first resolved, listed or allowlisted). With
-- room, the new version stays on its page and no index entry is added (a HOT update); without
-- it, every such update added an entry to both of the names' indexes (passive DNS on stored
-- names: 60% of the names updated per 1M records). Pages written before keep their fill.
ALTER TABLE names SET (fillfactor = 70);
