"""`python -m rag`: the same command line as the `rag` script."""

from .cli import main

raise SystemExit(main())
