from ecr_governance_cli.main import main

raise SystemExit(main())
