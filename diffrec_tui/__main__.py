"""python -m diffrec_tui: the same as the diffrec-tui command."""
from diffrec_tui.cli import main

raise SystemExit(main())
