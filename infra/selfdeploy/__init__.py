"""infrabot deploying itself to GCP: a Pulumi program for its own services (`infrabot deploy`)."""
