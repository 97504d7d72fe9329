"""Pure transforms of trip files: no Dagster here, so each is testable on its own."""
