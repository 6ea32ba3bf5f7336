"""The ECS-compatible API server (`fgform serve`): the ECS JSON 1.1 protocol over HTTP,
SigV4 authentication, IAM-style authorization and an audit log, in front of the same
planner, executor, drivers, state store and lock as the command line."""
