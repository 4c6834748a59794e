"""What every Todo Assistant service shares, one place each: server bootstrap, auth, errors, DB."""
