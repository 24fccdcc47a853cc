"""Getting articles in: reading files and corpora into `Document`s, saving uploads safely, and
updating an index with only what changed."""
