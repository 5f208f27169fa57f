from mockknock.cli import main

raise SystemExit(main())
