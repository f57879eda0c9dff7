import sys

from sam3lib.cli import main

sys.exit(main())
