import sys

from glassdyn.cli import main

sys.exit(main())
