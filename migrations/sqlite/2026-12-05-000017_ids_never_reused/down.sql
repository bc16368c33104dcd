-- Nothing to undo: the tables keep their columns, and ids that are never given twice harm
-- no earlier version.
SELECT 1;
