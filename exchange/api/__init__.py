"""HTTP surface: each handler reads the request, makes one call, returns a response."""
