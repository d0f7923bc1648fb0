"""AI over a company's results: questions answered through read-only tools, weekly insights, and QBR summaries."""
