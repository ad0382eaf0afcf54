"""Research code: evaluation instruments; the server never imports it."""
