"""python -m diffrec_tui: the same as the diffrec-tui command."""
from .cli import main

raise SystemExit(main())
