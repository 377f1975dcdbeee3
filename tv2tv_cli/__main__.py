"""`python -m tv2tv_cli ...` is `tv2tv ...` (build-world runs its stages this way, torchrun too)."""
import sys

from . import main

sys.exit(main())
