"""Everything that knows the Vapi REST API: the kinds table and the HTTP client."""
