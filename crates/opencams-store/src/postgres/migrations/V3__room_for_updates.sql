-- A message is updated twice or three times after its insert (settlement, sent, delivered, read),
-- and its queue entry once (the claim's lease). Pages filled to the brim put every new version of
-- a row on another page, with a new entry in each of the table's indexes; room left on each page
-- lets PostgreSQL keep a status update on the row's page and skip the indexes (a HOT update),
-- since no status update changes an indexed column. Applies to pages written from now on.
ALTER TABLE messages SET (fillfactor = 70);
ALTER TABLE queue SET (fillfactor = 70);
