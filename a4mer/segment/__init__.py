"""Action atoms (light core)."""
