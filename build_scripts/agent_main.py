"""Entry point of the frozen base agent."""

from agent.cli import main

if __name__ == "__main__":
    main()
