-- Step 000020 makes PostgreSQL's tally triggers follow each statement (see
-- migrations/postgresql): there every earlier version of a row is kept until no
-- transaction can see it. SQLite updates a row in place, one at a time.
SELECT 1;
