"""Sources: each turns one kind of raw input into the interim tables (:mod:`..tables`)."""
