"""Developer tooling: local DynamoDB (DynamoDB Local) and template helpers for tests and benches."""
