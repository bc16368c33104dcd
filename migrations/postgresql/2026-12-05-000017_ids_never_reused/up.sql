-- Step 000017 builds six of SQLite's tables again so that their ids are never given twice
-- (see migrations/sqlite). PostgreSQL's identity columns never give an id twice already.
SELECT 1;
