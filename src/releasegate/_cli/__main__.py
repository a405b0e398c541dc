"""`python -m releasegate._cli`: the CLI, for a child process of the same interpreter (the demo
runs its assessment in one)."""

from releasegate._cli.main import main

main()
