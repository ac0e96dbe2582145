from ecr_governance.cli import main

raise SystemExit(main())
