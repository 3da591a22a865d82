"""`python -m bot` is the same as the `liuhen` console script."""

from bot.cli import main

raise SystemExit(main())
