"""The whole service on one machine: DynamoDB Local, the HTTP API, the queues, the table's
stream, the schedules and a seeded demo shop, wired from template.yaml (docs/local.md).

``LocalStack`` (devtools.local.stack) runs it in-process; ``loyalty-local``
(devtools.local.cli) is the command-line tool."""
