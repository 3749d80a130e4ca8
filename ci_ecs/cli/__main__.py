"""`python -m ci_ecs.cli`: the `ci-ecs` command."""

from ci_ecs.cli import main

if __name__ == "__main__":
    main()
