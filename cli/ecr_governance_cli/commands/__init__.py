"""One module per capability; each `register(subparsers)` adds its commands with `func(args, target) -> exit code`."""
