"""The AWS side of infrabot: builders, sizes and prices (the GCP ones live in infra/components)."""
