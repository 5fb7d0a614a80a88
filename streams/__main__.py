"""``python -m streams`` is the ``cutstream`` command."""

from streams.cli import main

main()
