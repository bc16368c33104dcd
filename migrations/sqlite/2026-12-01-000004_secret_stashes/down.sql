DROP TABLE secret_stashes;
